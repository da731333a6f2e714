"""The chip-encoding loop: read chips (several readers, ahead), skip nodata ones, encode batches.

The one place where reading, encoding and writing meet: `samscape encode`, the live cache and the
cost estimate all run their chips through `encode_chips`, each with its own sink and progress.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from .geo import Chip
from .planning import EncodePlan
from .raster import RasterSource, ReadSpec
from .threads import cores

ProgressCallback = Callable[[int, int], None]
"""callable(done, total): chips done so far of those to do."""

__all__ = ["BatchDone", "ChipSink", "MAX_READERS", "ProgressCallback", "default_readers", "encode_chips"]

MAX_READERS = 8
"""Most reader threads chosen by default (one per core up to this)."""


class ChipSink(Protocol):
    """Where encoded chips go (a `features.FolderState`, or a measuring sink)."""

    def write(self, chip: Chip, pixels_shape: tuple[int, int], features: dict[str, torch.Tensor]
              ) -> None:
        """Take one chip's features; `pixels_shape` is its pixels' (rows, cols)."""

    def skip(self, chip: Chip) -> None:
        """Take note that `chip` is all nodata (it is not encoded)."""


@dataclass(frozen=True)
class BatchDone:
    """One batch through the loop: the chips encoded and written, those skipped as all nodata,
    and the seconds the backend took to encode them."""

    encoded: tuple[Chip, ...]
    nodata: tuple[Chip, ...]
    seconds: float

    def __len__(self) -> int:
        return len(self.encoded) + len(self.nodata)


def default_readers(available: int | None = None) -> int:
    """Reader threads by default: one per core, at most `MAX_READERS`. GDAL decodes with the GIL
    released, so readers overlap each other and the model; more than the cores only queue."""
    return max(1, min(MAX_READERS, available if available is not None else cores()))


def encode_chips(source: RasterSource, plan: EncodePlan, chips: Iterable[Chip], batch_size: int,
                 sink: ChipSink, *, warm_up: bool = False, readers: int | None = None
                 ) -> Generator[BatchDone, None, None]:
    """Encode `chips` of the open `source` as `plan` says, in batches of up to `batch_size` chips
    with data, into `sink`; yields after each batch so the caller can report progress or stop.

    Chips are read in background threads, `readers` of them (default `default_readers()`), each
    on its own handle of the raster, up to two batches ahead, so reading overlaps encoding; they
    are handed on in the order of `chips`, so batches are the same whatever the count. A chip all
    nodata goes to `sink.skip` and is not encoded. warm_up: encode the first chip alone once
    before the first batch (its features are dropped), so batch times leave out the model's
    first-call setup. Closing the generator stops the readers and closes their handles.
    """
    backend = plan.backend
    count = readers if readers is not None else default_readers()
    ahead = 2 * batch_size + count
    with closing(_read_ahead(source, plan.read_spec, chips, count, ahead)) as pixels:
        for batch, nodata in _batches(pixels, batch_size):
            for chip in nodata:
                sink.skip(chip)
            seconds = 0.0
            if batch:
                tensors = [torch.from_numpy(p) for _, p in batch]
                if warm_up:
                    backend.encode(tensors[:1], plan.mixed_precision)
                    warm_up = False
                start = time.perf_counter()
                features = backend.encode(tensors, plan.mixed_precision)
                seconds = time.perf_counter() - start
                for (chip, data), feats in zip(batch, features, strict=True):
                    sink.write(chip, data.shape[:2], feats)
            yield BatchDone(tuple(chip for chip, _ in batch), tuple(nodata), seconds)


_Read = tuple[Chip, "np.ndarray | None"]
_Batch = tuple[list[tuple[Chip, np.ndarray]], list[Chip]]


def _batches(reads: Iterable[_Read], size: int) -> Iterator[_Batch]:
    """Group (chip, (H, W, 3) uint8 pixels or None if all nodata) in order into (up to `size`
    chips with their pixels, chips all nodata)."""
    batch: list[tuple[Chip, np.ndarray]] = []
    nodata: list[Chip] = []
    for chip, pixels in reads:
        if pixels is None:
            nodata.append(chip)
        else:
            batch.append((chip, pixels))
        if len(batch) == size:
            yield batch, nodata
            batch, nodata = [], []
    if batch or nodata:
        yield batch, nodata


def _read_ahead(source: RasterSource, spec: ReadSpec, chips: Iterable[Chip], readers: int, ahead: int
                ) -> Generator[_Read, None, None]:
    """Read `chips` in `readers` threads, at most `ahead` chips read but not yet taken; yield
    (chip, pixels or None) in the order of `chips`. Reader 0 uses `source`, the others each open
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
                    post(index, (chip, handle.read_chip(spec, chip.window)))
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
