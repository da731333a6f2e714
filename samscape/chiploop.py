"""The chip-encoding loop: read chips (prefetched), skip nodata ones, encode batches, hand them on.

The one place where reading, encoding and writing meet: `samscape encode`, the live cache and the
cost estimate all run their chips through `encode_chips`, each with its own sink and progress.
"""

from __future__ import annotations

import queue
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

ProgressCallback = Callable[[int, int], None]
"""callable(done, total): chips done so far of those to do."""

__all__ = ["BatchDone", "ChipSink", "ProgressCallback", "encode_chips"]


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


def encode_chips(source: RasterSource, plan: EncodePlan, chips: Iterable[Chip], batch_size: int,
                 sink: ChipSink, *, warm_up: bool = False) -> Generator[BatchDone, None, None]:
    """Encode `chips` of the open `source` as `plan` says, in batches of up to `batch_size` chips
    with data, into `sink`; yields after each batch so the caller can report progress or stop.

    Chips are read in order in a background thread, two batches ahead, so reading overlaps
    encoding; a chip all nodata goes to `sink.skip` and is not encoded. warm_up: encode the first
    chip alone once before the first batch (its features are dropped), so batch times leave out
    the model's first-call setup.
    """
    backend = plan.backend
    with closing(_prefetch(_batches(source, plan.read_spec, chips, batch_size))) as batches:
        for batch, nodata in batches:
            for chip in nodata:
                sink.skip(chip)
            seconds = 0.0
            if batch:
                pixels = [torch.from_numpy(p) for _, p in batch]
                if warm_up:
                    backend.encode(pixels[:1], plan.mixed_precision)
                    warm_up = False
                start = time.perf_counter()
                features = backend.encode(pixels, plan.mixed_precision)
                seconds = time.perf_counter() - start
                for (chip, data), feats in zip(batch, features, strict=True):
                    sink.write(chip, data.shape[:2], feats)
            yield BatchDone(tuple(chip for chip, _ in batch), tuple(nodata), seconds)


_Batch = tuple[list[tuple[Chip, np.ndarray]], list[Chip]]


def _batches(source: RasterSource, spec: ReadSpec, chips: Iterable[Chip], size: int
             ) -> Iterator[_Batch]:
    """Read chips in order; yield (up to `size` chips with their (H, W, 3) uint8 pixels, chips all
    nodata)."""
    batch, nodata = [], []
    for chip in chips:
        pixels = source.read_chip(spec, chip.window)
        if pixels is None:
            nodata.append(chip)
        else:
            batch.append((chip, pixels))
        if len(batch) == size:
            yield batch, nodata
            batch, nodata = [], []
    if batch or nodata:
        yield batch, nodata


def _prefetch(items: Iterator[_Batch], depth: int = 2) -> Generator[_Batch, None, None]:
    """Run `items` in a background thread, `depth` ahead, so reading overlaps encoding."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    end = object()
    stop = threading.Event()

    def worker() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(end)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
