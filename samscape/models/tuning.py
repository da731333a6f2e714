"""The batch size chosen for the device (`--batch-size auto`): the largest that fits and helps.

On CUDA a short probe: dummy uint8 chips of the model's input size through the backend's own
`encode` in batches of 1, 2, 4, ... up to `MAX_AUTO_BATCH`, stopping where a doubling gains less
than `MIN_GAIN` in chips/s, where the next one would need more than `MEMORY_SHARE` of the memory
that was free, or where one runs out of memory (the cache is emptied and the previous size kept).
The choice is made once per model, device and precision in a process and reused. Elsewhere no
probe runs: `CPU_BATCH_SIZE`, measured (see its note). `probe_batch_size` itself runs on any
device, so tests exercise it on the CPU with a tiny model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

if TYPE_CHECKING:
    from .backend import SamBackend

__all__ = ["CPU_BATCH_SIZE", "MAX_AUTO_BATCH", "BatchChoice", "BatchTrial", "auto_batch_size",
           "batch_size_for", "chosen", "forget_batch_sizes", "probe_batch_size", "stop_reason"]

MAX_AUTO_BATCH = 64
"""The largest batch the probe tries."""

MIN_GAIN = 0.05
"""A doubling is kept only if it encodes at least this much faster (chips/s) than the best before."""

MEMORY_SHARE = 0.6
"""Most of the device memory free at the probe's start a chosen batch may use: the rest is left
for the loop's batches in flight, the allocator's fragmentation and other processes."""

CPU_BATCH_SIZE = 4
"""The batch on devices that are not probed (CPUs, MPS): the former default, so the CPU path is
as before. Measured on the 2-core development CPU (fp32: no native bf16; shared with other
work, so noisy; medians of rounds interleaved, chips/s at batch 1 / 2 / 4): the demo model
3.0 / 2.5 / 4.5, 2.6 / 2.2 / 3.3 and 5.4 / 4.5 / 6.3, SAM ViT-B-sized 0.13 / 0.13 / 0.10 and 0.027 / 0.026 /
0.034 (under heavy load): within noise for ViT-B, where a CPU's throughput hardly depends on the
batch once its cores are busy; the small demo model gains from fewer calls. A CPU is not
probed: its timings are too noisy to choose by and it has no memory limit to find."""

StopReason = Literal["gain", "memory", "out of memory", "cap", "not probed"]


@dataclass(frozen=True, slots=True)
class BatchTrial:
    """One batch size tried: its chips/s and the device memory it used (None off CUDA)."""

    batch_size: int
    chips_per_second: float
    memory_bytes: int | None


@dataclass(frozen=True, slots=True)
class BatchChoice:
    """The batch size chosen, why the probe stopped, and the trials in the order run."""

    batch_size: int
    reason: StopReason
    trials: tuple[BatchTrial, ...] = ()


def probe_batch_size(backend: SamBackend, mixed_precision: bool = True, *, cap: int = MAX_AUTO_BATCH,
                     min_gain: float = MIN_GAIN, memory_share: float = MEMORY_SHARE,
                     repeats: int = 2) -> BatchChoice:
    """Try batches of 1, 2, 4, ... (at most `cap`) of random (S, S, 3) uint8 chips, S the model's
    input size, through `backend.encode`, each once to warm up then `repeats` times (the fastest
    counts); stop as the module docstring says. Runs on any device; memory is checked on CUDA only."""
    size = backend.spec.input_size
    rng = np.random.default_rng(0)
    cuda = backend.device.type == "cuda"
    free = base = 0
    if cuda:
        torch.cuda.empty_cache()
        free, _ = torch.cuda.mem_get_info(backend.device)
        base = torch.cuda.memory_allocated(backend.device)
    trials: list[BatchTrial] = []
    batch = 1
    reason: StopReason | None = None
    while reason is None:
        chips = [torch.from_numpy(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
                 for _ in range(batch)]
        out_of_memory = False
        try:
            if cuda:
                torch.cuda.reset_peak_memory_stats(backend.device)
            seconds = min(_timed(backend, chips, mixed_precision) for _ in range(1 + repeats))
            used = torch.cuda.max_memory_allocated(backend.device) - base if cuda else None
        except torch.OutOfMemoryError:
            out_of_memory = True  # the cache is emptied below, once the error's frames are gone
        finally:
            del chips
        if out_of_memory:
            reason = "out of memory"
            break
        trials.append(BatchTrial(batch, batch / seconds, used))
        reason = stop_reason(trials, cap, min_gain, memory_share * free if cuda else None)
        batch *= 2
    if cuda:
        torch.cuda.empty_cache()
    return BatchChoice(chosen(trials, min_gain), reason or "cap", tuple(trials))


def stop_reason(trials: list[BatchTrial], cap: int, min_gain: float = MIN_GAIN,
                budget_bytes: float | None = None) -> StopReason | None:
    """Why the probe stops after `trials` (batches 1, 2, 4, ... in order), or None to try the
    next doubling: the last gained less than `min_gain` over the best before it; the next
    (memory assumed to grow with the batch) would use more than `budget_bytes`; or it would pass
    `cap`."""
    last = trials[-1]
    if len(trials) > 1 and last.chips_per_second < (1 + min_gain) * _best(trials[:-1]).chips_per_second:
        return "gain"
    if budget_bytes is not None and last.memory_bytes is not None and 2 * last.memory_bytes > budget_bytes:
        return "memory"
    if 2 * last.batch_size > cap:
        return "cap"
    return None


def chosen(trials: list[BatchTrial], min_gain: float = MIN_GAIN) -> int:
    """The batch size of the last trial that gained at least `min_gain` over all before it (1
    if none ran)."""
    return _best(trials, min_gain).batch_size if trials else 1


def _best(trials: list[BatchTrial], min_gain: float = MIN_GAIN) -> BatchTrial:
    best = trials[0]
    for trial in trials[1:]:
        if trial.chips_per_second >= (1 + min_gain) * best.chips_per_second:
            best = trial
    return best


def _timed(backend: SamBackend, chips: list[torch.Tensor], mixed_precision: bool) -> float:
    started = time.perf_counter()
    backend.encode(chips, mixed_precision)
    if backend.device.type == "cuda":
        torch.cuda.synchronize(backend.device)
    return max(time.perf_counter() - started, 1e-9)


_lock = threading.Lock()
_chosen: dict[tuple, BatchChoice] = {}


def auto_batch_size(backend: SamBackend, mixed_precision: bool = True,
                    on_probe: Callable[[], None] | None = None) -> BatchChoice:
    """The batch size for `backend` on its device: probed on CUDA (once per model, device and
    precision in this process; `on_probe()` is called just before a probe runs, for progress),
    `CPU_BATCH_SIZE` elsewhere."""
    if backend.device.type != "cuda":
        return BatchChoice(CPU_BATCH_SIZE, "not probed")
    key = (backend.info.id, backend.info.weights_sha256, str(backend.device), mixed_precision)
    with _lock:
        if key not in _chosen:
            if on_probe is not None:
                on_probe()
            _chosen[key] = probe_batch_size(backend, mixed_precision)
        return _chosen[key]


def batch_size_for(backend: SamBackend, setting: int | Literal["auto"], mixed_precision: bool = True,
                   on_probe: Callable[[], None] | None = None) -> int:
    """`setting` itself, or for "auto" `auto_batch_size`'s choice."""
    if setting == "auto":
        return auto_batch_size(backend, mixed_precision, on_probe).batch_size
    return int(setting)


def forget_batch_sizes() -> None:
    """Drop the sizes chosen so far (the next auto choice probes again); for tests."""
    with _lock:
        _chosen.clear()
