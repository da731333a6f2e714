"""The chip-encoding loop: read chips (several readers, ahead), skip nodata ones, encode batches,
write chip files (several writers, while the next batch encodes).

The one place where reading, encoding and writing meet: `samscape encode`, the live cache and the
cost estimate all run their chips through `encode_chips`, each with its own sink and progress.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, fields
from typing import Protocol

import torch

from .geo import Chip
from .planning import EncodePlan
from .raster import RasterSource, ReadSpec
from .threads import cores

ProgressCallback = Callable[[int, int], None]
"""callable(done, total): chips done so far of those to do."""

__all__ = ["BatchDone", "ChipSink", "MAX_READERS", "ProgressCallback", "StageSeconds", "WRITERS",
           "default_readers", "encode_chips"]

MAX_READERS = 8
"""Most reader threads chosen by default (one per core up to this)."""

WRITERS = 2
"""Writer threads by default: chip files are written while the next batch encodes (torch.save
and the file system release the GIL; on a GPU one thread writes ~500 fp16 ViT-B chips/s)."""


class ChipSink(Protocol):
    """Where encoded chips go (a `features.FolderState`, or a measuring sink). `write` is called
    from the loop's writer threads, several at once, and `skip` from the loop's own."""

    def write(self, chip: Chip, pixels_shape: tuple[int, int], features: dict[str, torch.Tensor]
              ) -> None:
        """Take one chip's features; `pixels_shape` is its pixels' (rows, cols)."""

    def skip(self, chip: Chip) -> None:
        """Take note that `chip` is all nodata (it is not encoded)."""


@dataclass(frozen=True, slots=True)
class StageSeconds:
    """Busy seconds of each stage of the loop, summed over the threads that run it: reading chips
    (the readers), upload with preprocessing, the model, the download of the features (the
    backend's steps: device time on CUDA, from events), writing chip files (the writers)."""

    read: float = 0.0
    upload: float = 0.0
    model: float = 0.0
    download: float = 0.0
    write: float = 0.0

    def __add__(self, other: StageSeconds) -> StageSeconds:
        return StageSeconds(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class BatchDone:
    """One batch through the loop: the chips encoded whose files are written, those skipped as
    all nodata, the seconds the backend took to encode them, and each stage's busy seconds."""

    encoded: tuple[Chip, ...]
    nodata: tuple[Chip, ...]
    seconds: float
    stages: StageSeconds = StageSeconds()

    def __len__(self) -> int:
        return len(self.encoded) + len(self.nodata)


def default_readers(available: int | None = None) -> int:
    """Reader threads by default: one per core, at most `MAX_READERS`. GDAL decodes with the GIL
    released, so readers overlap each other and the model; more than the cores only queue."""
    return max(1, min(MAX_READERS, available if available is not None else cores()))


def encode_chips(source: RasterSource, plan: EncodePlan, chips: Iterable[Chip], batch_size: int,
                 sink: ChipSink, *, warm_up: bool = False, readers: int | None = None,
                 writers: int | None = None) -> Generator[BatchDone, None, None]:
    """Encode `chips` of the open `source` as `plan` says, in batches of up to `batch_size` chips
    with data, into `sink`; yields after each batch so the caller can report progress or stop.

    Chips are read in background threads, `readers` of them (default `default_readers()`), each
    on its own handle of the raster, up to two batches ahead, so reading overlaps encoding; they
    are handed on in the order of `chips` (as uint8 tensors, pinned where the model is on CUDA),
    so batches are the same whatever the count. A chip all nodata goes to `sink.skip` and is not
    encoded. Features come back in the folder's dtype and are written by `writers` threads
    (default `WRITERS`) while the next batch encodes: a batch is yielded once its files are
    written, the first at once, each later one after the next batch is encoded. warm_up: encode
    the first chip alone once before the first batch (its features are dropped), so batch times
    leave out the model's first-call setup. A write error is raised here. Closing the generator
    cancels the writes not begun, waits for those begun (each leaves a whole file or none), stops
    the readers and closes their handles.
    """
    backend = plan.backend
    dtype = getattr(torch, plan.metadata.dtype)
    count = readers if readers is not None else default_readers()
    ahead = 2 * batch_size + count
    pin = backend.device.type == "cuda"
    pool = ThreadPoolExecutor(writers if writers is not None else WRITERS,
                              thread_name_prefix="samscape-writer")
    try:
        with closing(_read_ahead(source, plan.read_spec, chips, count, ahead, pin)) as pixels:
            pending: _Writing | None = None
            for index, (batch, nodata) in enumerate(_batches(pixels, batch_size)):
                for chip, _ in nodata:
                    sink.skip(chip)
                seconds, writes = 0.0, []
                steps: dict[str, float] = {}
                if batch:
                    tensors = [p for _, p, _ in batch]
                    if warm_up:
                        backend.encode(tensors[:1], plan.mixed_precision, dtype)
                        warm_up = False
                    start = time.perf_counter()
                    features = backend.encode(tensors, plan.mixed_precision, dtype, steps)
                    seconds = time.perf_counter() - start
                    writes = [pool.submit(_write, sink, chip, (p.shape[0], p.shape[1]), feats)
                              for (chip, p, _), feats in zip(batch, features, strict=True)]
                read = sum(s for _, _, s in batch) + sum(s for _, s in nodata)
                current = _Writing(tuple(c for c, _, _ in batch), tuple(c for c, _ in nodata),
                                   seconds, StageSeconds(read=read, **steps), writes)
                if pending is not None:
                    yield pending.done()
                pending = current
                if index == 0:
                    yield pending.done()
                    pending = None
            if pending is not None:
                yield pending.done()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class _Writing:
    """A batch encoded, its chip files being written by `writes` (each: seconds it took)."""

    encoded: tuple[Chip, ...]
    nodata: tuple[Chip, ...]
    seconds: float
    stages: StageSeconds
    writes: list[Future[float]]

    def done(self) -> BatchDone:
        """Wait for the writes; raises the first write error."""
        spent = sum(write.result() for write in self.writes)
        return BatchDone(self.encoded, self.nodata, self.seconds,
                         self.stages + StageSeconds(write=spent))


def _write(sink: ChipSink, chip: Chip, shape: tuple[int, int], features: dict[str, torch.Tensor]
           ) -> float:
    start = time.perf_counter()
    sink.write(chip, shape, features)
    return time.perf_counter() - start


_Read = tuple[Chip, "torch.Tensor | None", float]
_Batch = tuple[list[tuple[Chip, torch.Tensor, float]], list[tuple[Chip, float]]]


def _batches(reads: Iterable[_Read], size: int) -> Iterator[_Batch]:
    """Group (chip, (H, W, 3) uint8 pixels or None if all nodata, seconds to read) in order into
    (up to `size` chips with their pixels, chips all nodata), each with its seconds."""
    batch: list[tuple[Chip, torch.Tensor, float]] = []
    nodata: list[tuple[Chip, float]] = []
    for chip, pixels, seconds in reads:
        if pixels is None:
            nodata.append((chip, seconds))
        else:
            batch.append((chip, pixels, seconds))
        if len(batch) == size:
            yield batch, nodata
            batch, nodata = [], []
    if batch or nodata:
        yield batch, nodata


def _read_ahead(source: RasterSource, spec: ReadSpec, chips: Iterable[Chip], readers: int, ahead: int,
                pin: bool = False) -> Generator[_Read, None, None]:
    """Read `chips` in `readers` threads, at most `ahead` chips read but not yet taken; yield
    (chip, (H, W, 3) uint8 tensor, in pinned memory if `pin`, or None if all nodata, seconds the
    reader spent on it) in the order of `chips`. Reader 0 uses `source`, the others each open
    their own handle and close it when done. A read error is raised where its chip would come;
    on close, the readers finish the chip in hand and are joined."""
    work = enumerate(chips)
    taken = 0
    take_lock = threading.Lock()
    ready = threading.Condition()
    results: dict[int, _Read | BaseException] = {}
    failures: list[BaseException] = []
    finished = 0
    slots = threading.Semaphore(ahead)
    stop = threading.Event()

    def post(index: int, item: _Read | BaseException) -> None:
        with ready:
            results[index] = item
            ready.notify()

    def take() -> tuple[int, Chip] | None:
        nonlocal taken
        while not slots.acquire(timeout=0.1):
            if stop.is_set():
                return None
        with take_lock:
            if stop.is_set():
                slots.release()
                return None
            try:
                item = next(work, None)
            except BaseException as exc:  # raised where the next chip would come
                stop.set()
                post(taken, exc)
                return None
            if item is None:
                slots.release()
                return None
            taken += 1
            return item

    def reader(k: int) -> None:
        nonlocal finished
        handle: RasterSource | None = None
        try:
            handle = source if k == 0 else source.reopen()
            while (item := take()) is not None:
                index, chip = item
                try:
                    start = time.perf_counter()
                    pixels = handle.read_chip(spec, chip.window)
                    tensor = None if pixels is None else torch.from_numpy(pixels)
                    if tensor is not None and pin:
                        tensor = tensor.pin_memory()
                    post(index, (chip, tensor, time.perf_counter() - start))
                except BaseException as exc:
                    stop.set()
                    post(index, exc)
        except BaseException as exc:  # opening a handle: raised at once
            stop.set()
            with ready:
                failures.append(exc)
        finally:
            if handle is not None and handle is not source:
                handle.close()
            with ready:
                finished += 1
                ready.notify()

    threads = [threading.Thread(target=reader, args=(k,), name=f"samscape-reader-{k}", daemon=True)
               for k in range(readers)]
    for thread in threads:
        thread.start()
    try:
        index = 0
        while True:
            with ready:
                while index not in results and not failures and finished < readers:
                    ready.wait()
                if failures:
                    raise failures[0]
                if index not in results:
                    return
                item = results.pop(index)
            slots.release()
            if isinstance(item, BaseException):
                raise item
            yield item
            index += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
