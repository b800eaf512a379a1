"""The embedding step's batches as Prefect task runs on the run's Dask cluster (prefect-dask), so the
Prefect UI shows the parallel work under the flow run; every other step goes to Dask directly.

A Prefect task run costs about 0.1 s of API traffic on the worker (measured: 100 tiny tasks took
9-11 s through `DaskTaskRunner`, 0.5 s as plain Dask tasks), so each of the step's calls becomes
one task run per worker, each running its share of the batches, not one task run per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect_dask import DaskTaskRunner

from executor.dask import DaskExecutor

Result = TypeVar("Result")

SHOWN_STEPS = ("encode_batch",)
"""Steps (by function name) whose chunks run as Prefect task runs; the encoders' batches."""


def _run_chunks(step: Callable[[Any], Result], chunks: Sequence[Any]) -> list[Result]:
    """`step` over a worker's share of the chunks, as one Prefect task run."""
    return [step(chunk) for chunk in chunks]


# the function keeps its own module-level name, so that workers unpickle it by reference
run_chunks = task(name="encode texts", cache_policy=NO_CACHE)(_run_chunks)


class ShownInPrefect:
    """An executor over a `DaskExecutor` whose `SHOWN_STEPS` run as Prefect tasks on the same cluster."""

    def __init__(self, dask: DaskExecutor) -> None:
        self.dask = dask

    @property
    def workers(self) -> int:
        return self.dask.workers

    def map(self, step: Callable[..., Result], chunks: Sequence[Any], shared: Any = None) -> list[Result]:
        if shared is not None or _name(step) not in SHOWN_STEPS or len(chunks) < 2:
            return self.dask.map(step, chunks, shared)
        shares = min(self.dask.workers, len(chunks))
        size = -(-len(chunks) // shares)
        groups = [list(chunks[start : start + size]) for start in range(0, len(chunks), size)]
        with DaskTaskRunner(address=self.dask.client.scheduler.address) as runner:
            futures = [runner.submit(run_chunks, {"step": step, "chunks": group}) for group in groups]
            return [result for future in futures for result in future.result()]


def _name(step: Callable[..., Any]) -> str:
    return getattr(step, "__name__", "")
