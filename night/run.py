"""Runs the stages of `night.stages` in order in this process, timing each: the run without Prefect.

The Prefect flow runs the very same `run_stage` for each stage, inside a task.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np

from corpus.article import Article
from corpus.readers import DEFAULT_MAX_ARTICLE_BYTES, is_url, read_articles
from embeddings.choose import EncoderChoice
from embeddings.encoders import Encoder, LexicalEncoder
from executor import Executor, collect_garbage_rarely, pause_point
from night import memory
from night.faults import checkpoint
from night.settings import ExecutorSettings, NightSettings
from night.stages import STAGES, Night, PrefetchedRead, Stage
from store import Store

log = logging.getLogger(__name__)

StageListener = Callable[[str], None]


STAGE_ATTRIBUTE = "storythreads_stage"
"""Set on an exception a stage raised: the stage's name, for a message that says where the run stopped."""


def run_stage(night: Night, stage: Stage) -> None:
    """Run one stage, record its seconds in `night.seconds` and the log, then pass its crash-test checkpoint.

    An exception it raises carries the stage's name (`STAGE_ATTRIBUTE`)."""
    collect_garbage_rarely()
    pause_point(f"before {stage.name}")
    night.stage_started = time.perf_counter()
    night.memory[stage.name] = {"start": memory.mark()}
    tracing = memory.traced(stage.name)
    if tracing:
        memory.start_tracing()
    try:
        stage.run(night)
    except Exception as error:
        with contextlib.suppress(AttributeError, TypeError):  # a built-in exception may take no attributes
            setattr(error, STAGE_ATTRIBUTE, getattr(error, STAGE_ATTRIBUTE, stage.name))
        raise
    finally:
        if tracing:
            night.memory[stage.name]["allocated_peak"] = memory.traced_peak()
    seconds = time.perf_counter() - night.stage_started
    night.seconds[stage.name] = round(seconds, 3)
    night.memory[stage.name]["peak"] = memory.peak_since_mark()
    log.info("stage %s: %.2f s", stage.name, seconds)
    checkpoint(stage.name)


def run_stages(night: Night, on_stage_done: StageListener | None = None) -> Night:
    """Every stage in order."""
    for stage in STAGES:
        run_stage(night, stage)
        if on_stage_done is not None:
            on_stage_done(stage.name)
    return night


WORKER_MODULES = ("corpus.prepare", "embeddings.encoders", "clustering.duplicates", "clustering.threads")
"""What the steps sent to workers import: imported by each worker as it starts, before the first step."""


@contextmanager
def executor_for(settings: ExecutorSettings, preload: Sequence[str] = ()) -> Iterator[Executor | None]:
    """The night's executor: the Dask cluster at `settings.cluster`, else a local cluster of
    `settings.workers` processes (started on first use), else (no workers) None; closed afterwards.
    Workers import `WORKER_MODULES` and `preload` as they start."""
    if settings.in_process_only:
        yield None
        return
    from executor.dask import DaskExecutor  # imports Dask: only runs that may use it pay for it

    executor = DaskExecutor(settings.cluster, settings.local_workers or None, (*WORKER_MODULES, *preload))
    try:
        if settings.cluster is not None:
            executor.start()  # a cluster that does not answer fails the run now, naming its address
        yield executor
    finally:
        executor.close()


def warm_up(
    paths: Sequence[str | Path],
    executor: Executor | None,
    settings: ExecutorSettings,
    max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES,
) -> PrefetchedRead | None:
    """Do now what the stages would otherwise wait for: start the executor's workers when the inputs are large
    enough for them, load the compiled kernels and the clustering library, and read the inputs: the read stage
    takes what this read and its seconds (`Night.prefetched`). Inputs with a URL are left to the read stage (its
    fetcher keeps feeds and pages politely), and None is returned.

    For a caller with time to spare before the first stage: the command line, while Prefect's temporary server
    boots on the other core. It changes no result.
    """
    start = getattr(executor, "start", None)
    if start is not None and _input_bytes(paths) >= settings.parallel_from_chars:
        # mostly waiting on the new processes: in a thread, beside the import below and the first stages
        threading.Thread(target=start, daemon=True).start()
    import hdbscan  # noqa: F401 - 1-2 s to import (scikit-learn, scipy.stats), needed by the thread stage

    load_kernels()
    if any(is_url(path) for path in paths):
        return None
    started = time.perf_counter()
    result = read_articles(paths, max_article_bytes)
    return PrefetchedRead(result, time.perf_counter() - started)


def load_kernels() -> None:
    """Load the compiled kernels (tokenising, windows, encoding, verifying) from numba's cache, or compile them."""
    from clustering.duplicates import DuplicateSettings, kernel_settings
    from clustering.verify import PassageTerms
    from clustering.verify_kernel import verify_candidates
    from corpus.prepare import prepare_articles

    prepared = prepare_articles([Article("warm", "warm", "load the compiled kernels once\nload them early please")])
    LexicalEncoder().encode(["load the compiled n-gram loop"])
    terms = PassageTerms(prepared, 2).for_workers()
    empty = np.zeros(0, dtype=np.int64)
    # the kernel itself, not a verification step: nothing a fault test watches for runs here
    verify_candidates(*terms.arrays(), empty, empty, terms.reach, kernel_settings(DuplicateSettings()))


def _input_bytes(paths: Sequence[str | Path]) -> int:
    total = 0
    for path in map(Path, paths):
        if path.is_file():
            total += path.stat().st_size
        elif path.is_dir():
            total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return total


@contextmanager
def opened(home: str | Path, db: str | None = None, lock_wait_seconds: float = 0.0) -> Iterator[Store]:
    """The store in `home` (or at `db`), held under its run lock for the whole run."""
    with Store.open(home, db) as store, store.run_lock(lock_wait_seconds):
        yield store


def run_night(
    store: Store,
    articles: Sequence[Article],
    encoder: Encoder,
    run_id: str,
    now: datetime,
    settings: NightSettings | None = None,
    lock_wait_seconds: float = 0.0,
    outputs: Sequence[str | Path] = (),
) -> Night:
    """All stages on `articles` (already read) with `encoder` (already loaded), under the store's run lock,
    on the executor its settings name."""
    settings = settings or NightSettings()
    night = Night.asked(
        store=store,
        paths=[],
        run_id=run_id,
        started=now,
        settings=settings,
        articles=list(articles),
        choice=EncoderChoice(encoder, encoder.name, None),
        outputs=[str(o) for o in outputs],
    )
    with store.run_lock(lock_wait_seconds), executor_for(settings.executor) as executor:
        night.executor = executor
        return run_stages(night)
