"""Running a pure, CPU-bound step over chunks of work in worker processes.

Preparing articles, hashing n-grams and tokenising candidate paragraphs are Python code that
holds the GIL, so a second core helps only from a second process. Workers are forked from a
clean forkserver (never from the run's own process, whose Prefect and FAISS threads would be
copied mid-flight), and one pool serves the whole run, so later steps pay no start-up.

`STORYTHREADS_WORKERS` sets the number of worker processes (default: the machine's cores;
1 runs everything in this process).
"""

from __future__ import annotations

import atexit
import gc
import logging
import multiprocessing
import multiprocessing.util
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

log = logging.getLogger(__name__)

WORKERS_ENV = "STORYTHREADS_WORKERS"

PARALLEL_MIN_CHARS = 5_000_000
"""Below this much article text (about 2,000 news articles) a step runs in the run's process: each
worker starts with cold caches (every word's stem computed again), which only a large batch pays
back. Measured in characters, not articles: 700 long documents are as much work as 2,000 short ones."""

Item = TypeVar("Item")
Result = TypeVar("Result")

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0


GC_THRESHOLDS = (50_000, 20, 100)
"""Python's cyclic garbage collector, tuned for a run: a stage holds millions of long-lived small
objects (terms, offsets, records), and the default thresholds (700, 10, 10) walk all of them again
and again (measured: 2-3 s of a 25 s run on reuse-dev). Reference counting still frees everything
that is not in a cycle at once."""


def collect_garbage_rarely() -> None:
    """Set `GC_THRESHOLDS` for this process (the run's, and each worker's as it starts)."""
    gc.set_threshold(*GC_THRESHOLDS)


def default_workers() -> int:
    """Worker processes to use: `STORYTHREADS_WORKERS` if set, else the number of cores."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return os.cpu_count() or 1
    try:
        workers = int(value)
    except ValueError:
        raise ValueError(f"{WORKERS_ENV} must be a whole number of processes, got {value!r}") from None
    if workers < 1:
        raise ValueError(f"{WORKERS_ENV} must be at least 1, got {workers}")
    return workers


def map_chunks(
    step: Callable[[Sequence[Item]], Result],
    items: Sequence[Item],
    chunk_size: int,
    workers: int | None = None,
    min_items: int | None = None,
    in_process: bool = False,
) -> list[Result]:
    """`step` applied to consecutive chunks of `items`: one result per chunk, in order.

    `step` must be picklable by reference (a module-level function, or a method of a
    picklable object). With one worker, or fewer than `min_items` items (default: two
    chunks), or with `in_process`, everything runs in this process: the answer is the same either way.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    workers = default_workers() if workers is None else workers
    min_items = 2 * chunk_size if min_items is None else min_items
    chunks = [items[start : start + chunk_size] for start in range(0, len(items), chunk_size)]
    if in_process or workers <= 1 or len(items) < min_items or len(chunks) < 2:
        return [step(chunk) for chunk in chunks]
    try:
        return list(_executor(workers, step.__module__).map(step, chunks))
    except BrokenProcessPool as error:
        # a worker died (killed, out of memory): the work is redone here rather than lost
        log.warning("a worker process died (%s): running %s in this process", error, getattr(step, "__name__", step))
        shutdown_workers()
        return [step(chunk) for chunk in chunks]


def map_items(
    step: Callable[[Sequence[Item]], list[Result]],
    items: Sequence[Item],
    chunk_size: int,
    workers: int | None = None,
    min_items: int | None = None,
    in_process: bool = False,
) -> list[Result]:
    """`map_chunks` for a `step` that returns one result per item: the results, flattened in order."""
    chunks = map_chunks(step, items, chunk_size, workers, min_items, in_process)
    return [result for chunk in chunks for result in chunk]


def too_little_text(chars: int) -> bool:
    """Whether a step over `chars` characters of article text should stay in this process."""
    return chars < PARALLEL_MIN_CHARS


def _executor(workers: int, preload: str) -> Executor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([preload])  # workers start with the step's module imported
            _pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=collect_garbage_rarely)
            _pool_size = workers
        return _pool


def start_workers(preload: str, workers: int | None = None) -> None:
    """Start the worker processes now (forkserver first, then each worker), with `preload` imported, so
    that the first parallel step does not wait for them. Does nothing with a single worker."""
    workers = default_workers() if workers is None else workers
    if workers <= 1:
        return
    executor = _executor(workers, preload)
    for _ in executor.map(_nothing, range(workers)):
        pass


def _nothing(_: int) -> None:
    return None


def worker_pids() -> list[int]:
    """Process ids of the running workers (none before the first parallel step)."""
    with _lock:
        return [] if _pool is None else [p.pid for p in list(getattr(_pool, "_processes", {}).values()) if p.pid]


def shutdown_workers(wait: bool = False) -> None:
    """Stop the worker processes (the next parallel step starts new ones)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=wait, cancel_futures=True)
            _pool = None


# at exit, before multiprocessing joins a process's children: otherwise a run inside a
# multiprocessing child (a spawned worker of some other tool) would wait forever on its idle workers
multiprocessing.util.Finalize(None, shutdown_workers, kwargs={"wait": True}, exitpriority=100)
atexit.register(shutdown_workers)
