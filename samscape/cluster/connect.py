"""Reaching a Dask cluster: a `LocalCluster`-like one of worker processes started here, or the
scheduler at an address; one-line errors when dask is missing or the scheduler cannot be reached.

The connect timeout is Dask's own (`distributed.comm.timeouts.connect`, 30 s by default; e.g.
`DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s`).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ClusterError, reason
from ..settings import ClusterTarget, parse_cluster
from ..threads import cores

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["EXTRA", "Cluster", "connect", "local_workers"]

EXTRA = "pip install 'samscape[cluster]'"
CORES_PER_CPU_WORKER = 4
"""`local` without a count on a machine without GPUs: one worker process per this many cores, and
at least two where there are two cores. On 2 cores (benchmarks/bench_scale.py --dask) two
one-thread workers encoded at 0.97x a local run, one two-thread worker at 0.87x: its OpenMP team
waits at every barrier whenever the scheduler or the client take a core."""


@dataclass
class Cluster:
    """A connected Dask client; `owned` is the cluster started for it (closed with it), if any."""

    client: Client
    target: ClusterTarget
    owned: Any = None

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.owned is not None:
                self.owned.close()

    def workers(self) -> dict[str, dict]:
        """The scheduler's workers by address (each with 'host', 'nthreads', 'name')."""
        return dict(self.client.scheduler_info(n_workers=-1)["workers"])

    def workers_per_host(self) -> tuple[tuple[str, int], ...]:
        counts: dict[str, int] = {}
        for info in self.workers().values():
            counts[info["host"]] = counts.get(info["host"], 0) + 1
        return tuple(sorted(counts.items()))

    def threads(self) -> int:
        """Task slots of all workers together (at least 1)."""
        return max(1, sum(int(info.get("nthreads", 1)) for info in self.workers().values()))


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"encoding on a cluster needs Dask (dask.distributed), which is not "
                           f"installed; {EXTRA}") from None
    return distributed


def local_workers(device: str, given: int | None) -> tuple[int, int]:
    """(worker processes, GPUs) of a local cluster: `given`, else one per GPU where `device` may use
    CUDA, else one per `CORES_PER_CPU_WORKER` cores (at least 2 where there are 2 cores)."""
    gpus = 0
    if device in ("auto", "cuda"):
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if given is not None:
        if given > max(cores(), gpus):
            raise ClusterError(f"local:{given} asks for {given} worker processes on a machine of "
                               f"{cores()} cores; give local:{max(cores(), gpus)} or fewer, or plain "
                               "local (one per GPU, or per 4 cores)")
        return given, gpus
    return (gpus or max(min(2, cores()), cores() // CORES_PER_CPU_WORKER)), gpus


@contextmanager
def connect(value: str | ClusterTarget, device: str = "auto") -> Iterator[Cluster]:
    """A `Cluster` for `value` ('local', 'local:N' or an address), closed on exit (with the local
    cluster started for it). Workers of a local cluster each run one task at a time, with this
    machine's cores shared among them and, on a GPU machine, a GPU each (CUDA_VISIBLE_DEVICES)."""
    target = value if isinstance(value, ClusterTarget) else parse_cluster(value)
    distributed = _distributed()
    with _environment_kept():
        cluster = _start_local(distributed, target, device) if target.address is None \
            else _reach(distributed, target)
        try:
            yield cluster
        finally:
            cluster.close()


@contextmanager
def _environment_kept() -> Iterator[None]:
    """Restore the variables a Nanny sets in this process before it spawns a worker (Dask's
    `distributed.nanny.pre-spawn-environ`: OMP_NUM_THREADS, MKL_NUM_THREADS=1, ...), which would
    otherwise stay in the caller's environment and pin its later children to one thread."""
    import dask.config

    keys = list(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    saved = {key: os.environ.get(key) for key in keys}
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_NO_MAIN_GUARD = ("in a script, start a local cluster under `if __name__ == \"__main__\":` (its "
                  "worker processes import the script again)")


def _start_local(distributed: Any, target: ClusterTarget, device: str) -> Cluster:
    import multiprocessing

    from distributed.system import MEMORY_LIMIT

    if getattr(multiprocessing.current_process(), "_inheriting", False):  # a worker importing __main__
        print(f"samscape: error: {_NO_MAIN_GUARD}", file=sys.stderr)
        raise SystemExit(1)  # quietly: the process that started it says why

    count, gpus = local_workers(device, target.workers)
    workers = {}
    for i in range(count):
        env = {"CUDA_VISIBLE_DEVICES": str(i % gpus)} if gpus else {}
        workers[i] = {"cls": distributed.Nanny, "options": {
            "nthreads": 1, "host": "127.0.0.1", "env": env, "memory_limit": MEMORY_LIMIT // count,
            "silence_logs": logging.ERROR}}
    scheduler = {"cls": distributed.Scheduler,
                 "options": {"dashboard": False, "dashboard_address": ":0", "host": "127.0.0.1", "port": 0}}
    try:
        owned = distributed.SpecCluster(workers=workers, scheduler=scheduler, silence_logs=logging.ERROR)
    except RuntimeError as exc:
        raise ClusterError(f"the local Dask workers did not start ({reason(exc)}); "
                           f"{_NO_MAIN_GUARD}") from None
    try:
        client = distributed.Client(owned)
        client.wait_for_workers(count)
    except BaseException:
        owned.close()
        raise
    return Cluster(client, target, owned)


def _reach(distributed: Any, target: ClusterTarget) -> Cluster:
    import dask.config

    address = target.address or ""
    timeout = dask.config.get("distributed.comm.timeouts.connect")
    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        why = reason(exc)
        raise ClusterError(f"cannot reach the Dask scheduler at '{address}' ({why}); start one "
                           "(dask scheduler) and check the address, or use --cluster local") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise ClusterError(f"the Dask scheduler at '{address}' has no workers; start some "
                           f"(dask worker {address}) with samscape installed") from None
    return Cluster(client, target)
