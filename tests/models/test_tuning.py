"""`--batch-size auto`: the probe (run on the CPU with the tiny model, a small cap) and the choice."""

from __future__ import annotations

import math

import pytest
import torch

from samscape.models import SamBackend, load_backend
from samscape.models.tuning import (
    CPU_BATCH_SIZE,
    BatchChoice,
    BatchTrial,
    auto_batch_size,
    batch_size_for,
    chosen,
    forget_batch_sizes,
    probe_batch_size,
    stop_reason,
)


@pytest.fixture(scope="module")
def backend() -> SamBackend:
    return load_backend("tiny-random-sam", device="cpu")


def test_the_probe_doubles_up_to_the_cap_while_it_helps(backend: SamBackend) -> None:
    choice = probe_batch_size(backend, cap=4, min_gain=-math.inf, repeats=0)
    assert [t.batch_size for t in choice.trials] == [1, 2, 4]
    assert choice == BatchChoice(4, "cap", choice.trials)
    assert all(t.chips_per_second > 0 and t.memory_bytes is None for t in choice.trials)  # no CUDA here


def test_the_probe_stops_where_a_doubling_gains_too_little(backend: SamBackend) -> None:
    choice = probe_batch_size(backend, cap=8, min_gain=math.inf, repeats=0)
    assert [t.batch_size for t in choice.trials] == [1, 2]
    assert (choice.batch_size, choice.reason) == (1, "gain")


def test_the_probe_keeps_the_last_size_that_gained_enough(backend: SamBackend) -> None:
    choice = probe_batch_size(backend, cap=4, repeats=1)
    rates = [t.chips_per_second for t in choice.trials]
    chosen = [t.batch_size for t in choice.trials].index(choice.batch_size)
    assert all(rates[i + 1] >= 1.05 * max(rates[:i + 1]) for i in range(chosen))
    if choice.reason == "gain":
        assert chosen == len(rates) - 2 and rates[-1] < 1.05 * max(rates[:-1])
    else:
        assert choice.reason == "cap" and choice.batch_size == 4


def test_auto_on_a_cpu_is_the_measured_fixed_size_without_a_probe(backend: SamBackend) -> None:
    probed: list[bool] = []
    assert auto_batch_size(backend, on_probe=lambda: probed.append(True)) == BatchChoice(
        CPU_BATCH_SIZE, "not probed")
    assert batch_size_for(backend, "auto", on_probe=lambda: probed.append(True)) == CPU_BATCH_SIZE
    assert batch_size_for(backend, 7) == 7 and not probed


def test_a_probe_leaves_the_model_as_it_was(backend: SamBackend) -> None:
    chip = torch.randint(0, 256, (256, 256, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    before = backend.encode([chip])[0]["image_embeddings"]
    probe_batch_size(backend, cap=2, repeats=0)
    forget_batch_sizes()
    assert torch.equal(backend.encode([chip])[0]["image_embeddings"], before)


def trials(*rates: float, memory: int | None = None) -> list[BatchTrial]:
    """Trials of batches 1, 2, 4, ... at `rates` chips/s, each using `memory` bytes per chip."""
    return [BatchTrial(2**i, rate, None if memory is None else memory * 2**i) for i, rate in enumerate(rates)]


@pytest.mark.parametrize(("rates", "memory", "budget", "reason", "size"), [
    ((10.0,), None, None, None, 1),
    ((10.0, 15.0, 20.0), None, None, None, 4),
    ((10.0, 15.0, 15.5), None, None, "gain", 2),         # 3 % over the best: not worth doubling
    ((10.0, 15.0, 14.0), None, None, "gain", 2),
    ((10.0, 15.0, 20.0), 100, 1000, None, 4),           # batch 8 would need 800 of 1000
    ((10.0, 15.0, 20.0, 25.0), 100, 1000, "memory", 8),  # batch 16 would need 1600
    ((10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0), None, None, "cap", 64),
])
def test_when_the_probe_stops_and_what_it_keeps(rates, memory, budget, reason, size) -> None:
    run = trials(*rates, memory=memory)
    assert stop_reason(run, cap=64, budget_bytes=budget) == reason
    assert chosen(run) == size


def test_memory_measured_elsewhere_than_cuda_is_not_checked() -> None:
    assert stop_reason(trials(10.0, 15.0, memory=None), cap=64, budget_bytes=1) is None
