"""Encoding on a Dask cluster (`samscape encode --cluster`, `encode(..., cluster=)`): the client
plans, keeps the manifest and the progress; workers run the one chip loop on a few chips a task
and write the chip files. Needs the `cluster` extra (dask[distributed])."""

from .connect import EXTRA, Cluster, connect
from .dispatch import encode_on, planning_backend
from .job import EncodeJob, TaskDone

__all__ = ["EXTRA", "Cluster", "EncodeJob", "TaskDone", "connect", "encode_on", "planning_backend"]
