"""Where a run's parallel steps run: in this process, or as tasks on a Dask cluster.

The algorithms never start processes. A step that can be split (preparing articles, hashing
texts, tokenising paragraphs, verifying candidate pairs) takes an `Executor` and hands it a
module-level function and a list of chunks; the executor returns one result per chunk, in order.
`InProcess` runs the chunks here; `executor.dask.DaskExecutor` sends them to Dask workers (local
processes or other machines). Which one a night uses, and from what size of work, is the
night's `ExecutorSettings`; the answer is the same either way.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

GC_THRESHOLDS = (50_000, 20, 100)
"""Python's cyclic garbage collector, tuned for a run: a stage holds millions of long-lived small
objects (terms, offsets, records), and the default thresholds (700, 10, 10) walk all of them again
and again (measured: 2-3 s of a 25 s run on reuse-dev). Reference counting still frees everything
that is not in a cycle at once."""


def collect_garbage_rarely() -> None:
    """Set `GC_THRESHOLDS` for this process (the run's, and each worker's as it starts)."""
    gc.set_threshold(*GC_THRESHOLDS)


class Executor(Protocol):
    """Runs a step over chunks of work; `workers` is how many chunks can run at once."""

    @property
    def workers(self) -> int: ...

    def map(self, step: Callable[..., Result], chunks: Sequence[Any], shared: Any = None) -> list[Result]:
        """`step(chunk)` for each chunk (or `step(chunk, shared)` when `shared` is given), in order.

        `step` must be picklable by reference (a module-level function or a picklable object's
        method); `shared` is sent to each worker once, not with every chunk.
        """
        ...


class InProcess:
    """Every chunk in this process, one after another."""

    workers = 1

    def map(self, step: Callable[..., Result], chunks: Sequence[Any], shared: Any = None) -> list[Result]:
        if shared is None:
            return [step(chunk) for chunk in chunks]
        return [step(chunk, shared) for chunk in chunks]


IN_PROCESS = InProcess()


def chunked(items: Sequence[Item], chunk_size: int) -> list[Sequence[Item]]:
    """`items` in consecutive chunks of `chunk_size` (the last may be shorter)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    return [items[start : start + chunk_size] for start in range(0, len(items), chunk_size)]


def map_chunks(
    executor: Executor | None, step: Callable[[Sequence[Item]], Result], items: Sequence[Item], chunk_size: int
) -> list[Result]:
    """`step` over consecutive chunks of `items` on `executor` (None: in this process); one result per chunk."""
    chunks = chunked(items, chunk_size)
    if executor is None or len(chunks) < 2:
        return IN_PROCESS.map(step, chunks)
    return executor.map(step, chunks)


def map_items(
    executor: Executor | None, step: Callable[[Sequence[Item]], list[Result]], items: Sequence[Item], chunk_size: int
) -> list[Result]:
    """`map_chunks` for a step that returns one result per item: the results, flattened in order."""
    return [result for chunk in map_chunks(executor, step, items, chunk_size) for result in chunk]


PAUSE_ENV = "STORYTHREADS_PAUSE_ONCE"
"""Fault tests: `NAME:MARKER`. The first process to reach the pause point NAME writes its process id
to the file MARKER and sleeps until the test removes MARKER (or `PAUSE_SECONDS` pass), so that the test can
kill it (SIGKILL) in the middle of that step, or break something it needs before it goes on."""

PAUSE_SECONDS = 30.0


def pause_point(name: str) -> None:
    """A point where a fault test may catch a worker mid-step (see `PAUSE_ENV`); nothing otherwise."""
    wanted = os.environ.get(PAUSE_ENV, "")
    point, _, marker = wanted.partition(":")
    if point != name or not marker:
        return
    try:
        with open(marker, "x", encoding="utf-8") as file:  # only the first process to get here pauses
            file.write(str(os.getpid()))
    except FileExistsError:
        return
    deadline = time.monotonic() + PAUSE_SECONDS
    while os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
