"""The storythreads Prefect flow: one thin task per stage of `night.stages`, artifacts for the Prefect UI."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.utilities.annotations import quote

from executor import Executor
from executor.dask import DaskExecutor
from flows.server import TemporaryServer
from night.failures import LOG_ATTRIBUTE, run_log
from night.run import STAGE_ATTRIBUTE, executor_for, opened, run_stage, warm_up
from night.settings import ExecutorSettings, NightSettings, StorythreadsSettings
from night.stages import STAGE_NAMES, STAGES, Night, PrefetchedRead, Stage, report_folders
from reports.render import new_duplicates_table, summary_lines, threads_table, to_markdown

ProgressListener = Callable[[str, float], None]
_listeners: list[ProgressListener] = []
_handback: list[dict[str, Any]] | None = None
"""While `run_flow` runs the flow, where the flow leaves its whole report (a served flow keeps nothing)."""
_handover: list[Executor | None] = []
_prefetched: list[PrefetchedRead | None] = []
"""While `run_flow` runs the flow, what it read while the server booted (None: nothing), for the read stage."""
"""While `run_flow` runs the flow, the executor it started early (a served flow starts its own)."""
ARTIFACT_ROWS = 50
"""Rows of each list and table in the UI artifacts (the strongest pairs, the largest threads); the report
files hold them all, and each artifact says how many more there are."""
ARTIFACT_DETAILS = 10
"""Pairs whose evidence the Markdown artifact writes out."""


FLOW_WORKER_MODULES = ("prefect", "prefect_dask", "flows.fanout")
"""The embedding batches run as Prefect task runs on the workers (`flows.fanout`): Prefect is imported (seconds)
as each worker starts, while the run reads and prepares, not at the first batch."""

_nights: dict[str, Night] = {}
"""The nights of the flow runs in progress, by run id: a stage task is given the id, not the night, so
that what Prefect records and sends along with a task (its parameters) stays small and picklable."""


# The flow's function reaches the module's state through functions only: Prefect sends its run context,
# the flow included, with every task it fans out to Dask workers, and a function pickled by value takes
# the globals it names along (a night holds the store and the cluster's client).


def _running(run_id: str, night: Night | None) -> None:
    """Record (or, with None, forget) the night of flow run `run_id`."""
    if night is None:
        _nights.pop(run_id, None)
    else:
        _nights[run_id] = night


def _hand_back(night: Night) -> None:
    """Leave the whole report for `run_flow`, when it runs the flow."""
    if _handback is not None:
        _handback.append({"report": night.report, "files": night.files})


def run_named_stage(run_id: str, stage: str) -> None:
    """Run the stage named `stage` on the night of flow run `run_id`."""
    run_stage(_nights[run_id], STAGES[STAGE_NAMES.index(stage)])


def _stage_task(stage: Stage) -> Task:
    """A Prefect task that runs `stage` (its function is module-level: tasks it fans out to workers pickle it
    by reference)."""
    # stage results are large in-memory objects: never hashed into cache keys
    options = {"retries": stage.retries, "retry_delay_seconds": 2, "cache_policy": NO_CACHE}
    return task(name=stage.name, description=stage.run.__doc__, **options)(run_named_stage)


STAGE_TASKS: dict[str, Task] = {stage.name: _stage_task(stage) for stage in STAGES}


class _Progress:
    """Reports the run's progress: a Prefect progress artifact, a log line, and local listeners (the CLI bar)."""

    def __init__(self) -> None:
        self._artifact: UUID | None = None
        try:
            self._artifact = create_progress_artifact(
                0.0, key="storythreads-progress", description="Stages of this storythreads run done"
            )
        except Exception as error:  # noqa: BLE001 - progress is a courtesy, never a reason to fail
            logging.getLogger(__name__).debug("no progress artifact: %s", error)

    def done(self, stage: str, seconds: float) -> None:
        percent = 100.0 * (STAGE_NAMES.index(stage) + 1) / len(STAGE_NAMES)
        get_run_logger().info("%3.0f%% · %s done in %.2f s", percent, stage, seconds)
        if self._artifact is not None:
            update_progress_artifact(self._artifact, percent)
        for listener in _listeners:
            listener(stage, percent)


@task(name="publish artifacts", cache_policy=NO_CACHE)
def publish_artifacts(report: dict[str, Any], files: dict[str, str]) -> None:
    """The report's summary as Prefect UI artifacts: Markdown, tables and a link to the HTML report."""
    create_markdown_artifact(
        markdown=to_markdown(report, detail_limit=ARTIFACT_DETAILS, row_limit=ARTIFACT_ROWS),
        key="storythreads-report",
        description="Duplicate-story report of this run",
    )
    new_pairs, found_tonight = new_duplicates_table(report, ARTIFACT_ROWS)
    create_table_artifact(
        table=_bounded(new_pairs, "article_a", found_tonight)
        or [{"article_a": "", "article_b": "", "kind": "no new pair tonight"}],
        key="storythreads-new-duplicates",
        description="Duplicate article pairs found tonight",
    )
    create_table_artifact(
        table=_bounded(threads_table(report), "thread") or [{"thread": "", "label": "no thread", "articles": 0}],
        key="storythreads-threads",
        description="Story threads in the retention window",
    )
    if "report.html" in files:
        # a browser will not follow a file:// link from the Prefect UI: the path, and how to open it
        page = Path(files["report.html"]).resolve()
        create_markdown_artifact(
            markdown=(
                f"**Report site** (its index; every pair and thread has a page beside it), on the machine that "
                f"ran this flow:\n\n`{page}`\n\n"
                f"Open it there (`xdg-open {page}`), or serve its folder over http: "
                f"`python -m http.server --directory {page.parent}`."
            ),
            key="storythreads-html-report",
            description="Where the report site of this run is, and how to open it",
        )


def _bounded(rows: list[dict[str, Any]], first_column: str, total: int | None = None) -> list[dict[str, Any]]:
    """The first `ARTIFACT_ROWS` rows, and a last row saying how many more are in the report files (of
    `total` rows in all, when `rows` are only the first of them)."""
    total = len(rows) if total is None else total
    shown = rows[:ARTIFACT_ROWS]
    if total <= len(shown):
        return shown
    return [*shown, {first_column: f"… and {total - len(shown)} more in report.json"}]


@flow(name="storythreads", log_prints=True)
def storythreads_flow(
    paths: list[str],
    output: str | None = None,
    home: str | None = None,
    db: str | None = None,
    encoder: str | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    max_article_bytes: int | None = None,
    retention_days: float | None = None,
    lock_wait_seconds: float | None = None,
    cluster: str | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Take in PATHS, compare them with the store's window, update threads and write the reports.

    Parameters left as None come from `STORYTHREADS_*` settings. Large nights run their parallel
    steps on the Dask cluster at `cluster`, or on a local one of `workers` processes. Reports go to `output`, or
    to `<home>/reports/<run>` and `<home>/reports/latest`. Returns the report's `run` section
    and the paths of the written files (`run_flow` returns the whole report).
    """
    defaults = StorythreadsSettings()
    started = datetime.now(UTC).replace(tzinfo=None)
    run_id = str(flow_run.get_id() or f"local-{started:%Y%m%dT%H%M%S}")
    home_dir = Path(home).expanduser() if home else defaults.home
    wait = defaults.lock_wait if lock_wait_seconds is None else lock_wait_seconds
    progress = _Progress()
    executor_settings = defaults.executor_settings(cluster, workers)
    with run_log(home_dir, started, run_id) as log_file:
        try:
            night = _run_night(
                paths,
                output,
                home_dir,
                db or defaults.db,
                wait,
                run_id,
                started,
                progress,
                executor_settings,
                encoder=encoder,
                device=device,
                batch_size=batch_size,
                max_article_bytes=max_article_bytes,
                retention_days=retention_days,
            )
        except Exception as error:
            stage = getattr(error, STAGE_ATTRIBUTE, None)
            logging.getLogger(__name__).exception("the run stopped%s", f" in the stage '{stage}'" if stage else "")
            with contextlib.suppress(AttributeError, TypeError):
                setattr(error, LOG_ATTRIBUTE, str(log_file))
            raise
    assert night.report is not None
    publish_artifacts(quote(night.report), night.files)
    for line in summary_lines(night.report):
        print(line)
    _hand_back(night)
    # a small return value: Prefect walks what a flow returns, and the report can be many megabytes
    return {"run": night.report["run"], "files": night.files}


def _run_night(
    paths: list[str],
    output: str | None,
    home_dir: Path,
    db: str | None,
    wait: float,
    run_id: str,
    started: datetime,
    progress: _Progress,
    executor_settings: ExecutorSettings,
    **options: Any,
) -> Night:
    """The stages of one flow run, each as its task, on the store and executor the run holds meanwhile."""
    defaults = StorythreadsSettings()
    with (
        opened(home_dir, db, wait) as store,
        _executor(executor_settings) as executor,
    ):
        night = Night.asked(
            store=store,
            prefetched=_prefetched[-1] if _prefetched else None,
            paths=list(paths),
            run_id=run_id,
            run_name=flow_run.get_name(),
            started=started,
            settings=NightSettings(
                retention_days=options["retention_days"] or defaults.retention_days, executor=executor_settings
            ),
            executor=executor,
            encoder_spec=options["encoder"] or defaults.encoder,
            device=options["device"] or defaults.device,
            batch_size=options["batch_size"] or defaults.batch_size,
            max_article_bytes=options["max_article_bytes"] or defaults.max_article_bytes,
            fetch_cache=str(home_dir / "http-cache"),
            fetch=defaults.fetch_settings(),
            outputs=[output] if output else report_folders(home_dir, started, run_id),
        )
        _running(run_id, night)
        try:
            for stage in STAGES:
                STAGE_TASKS[stage.name](run_id, stage.name)
                progress.done(stage.name, night.seconds.get(stage.name, 0.0))
        finally:
            _running(run_id, None)
    return night


@contextmanager
def _executor(settings: ExecutorSettings) -> Iterator[Executor | None]:
    """The executor `run_flow` handed over, else one of the flow's own."""
    if _handover:
        yield _shown_in_prefect(_handover[-1])
        return
    with executor_for(settings, FLOW_WORKER_MODULES) as executor:
        yield _shown_in_prefect(executor)


def _shown_in_prefect(executor: Executor | None) -> Executor | None:
    """On a Dask cluster, the embedding batches run as Prefect task runs (see `flows.fanout`)."""
    if not isinstance(executor, DaskExecutor):
        return executor
    from flows.fanout import ShownInPrefect  # imports prefect-dask and Dask: only runs that may use them

    return ShownInPrefect(executor)


def run_flow(
    paths: Sequence[str | Path],
    on_progress: ProgressListener | None = None,
    server: TemporaryServer | None = None,
    **parameters: Any,
) -> dict[str, Any]:
    """Run the flow once in this process, without the per-run heartbeat thread (it costs ~1 s a run);
    returns the report (as in report.json) and the paths of the written files.

    `server` is the temporary Prefect API the caller started early (`flows.server`); the flow
    starts once it answers.
    """
    global _handback
    if on_progress is not None:
        _listeners.append(on_progress)
    defaults = StorythreadsSettings()
    settings = defaults.executor_settings(parameters.get("cluster"), parameters.get("workers"))
    _handback = []
    try:
        with executor_for(settings, FLOW_WORKER_MODULES) as executor:
            _handover.append(executor)
            if server is not None:
                max_bytes = parameters.get("max_article_bytes") or defaults.max_article_bytes
                _prefetched.append(warm_up(paths, executor, settings, max_bytes))  # while the server boots
                server.wait_until_ready()
            with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                storythreads_flow([str(p) for p in paths], **parameters)
        return _handback[-1]
    finally:
        _handback = None
        _handover.clear()
        _prefetched.clear()
        if on_progress is not None:
            _listeners.remove(on_progress)
