"""Work shared among processor cores: how many there are, and a process pool that keeps
the order of its jobs.

The pool forks (the jobs' inputs are not re-read or re-imported by each worker) and returns
the results in the order of the jobs, so an output never depends on how many workers made
it.  One worker, or fewer than two jobs, runs in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["in_processes", "usable_cores"]

_S = TypeVar("_S")
_T = TypeVar("_T")
_R = TypeVar("_R")


def usable_cores() -> int:
    """The processor cores this process may run on (at least 1): a default for
    ``workers``."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def in_processes(
    work: Callable[[_S, _T], _R], shared: _S, jobs: Sequence[_T], workers: int
) -> list[_R]:
    """``[work(shared, job) for job in jobs]``, shared among ``workers`` forked processes.

    ``shared`` reaches each worker by the fork itself, never pickled (a trust store, an
    issue list); ``work`` must be a module-level function and each job and result
    picklable.  An exception raised by ``work`` is raised here (the first, in job order).

    Raises:
        ValueError: ``workers`` below 1.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if workers == 1 or len(jobs) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [work(shared, job) for job in jobs]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        min(workers, len(jobs)), mp_context=context, initializer=_receive, initargs=(shared,)
    ) as pool:
        return list(pool.map(_apply, [(work, job) for job in jobs]))


_SHARED: list[Any] = []
"""In a worker: the ``shared`` value of the pool it serves."""


def _receive(shared: Any) -> None:
    _SHARED[:] = [shared]


def _apply(call: tuple[Callable[[Any, Any], _R], Any]) -> _R:
    work, job = call
    return work(_SHARED[0], job)
