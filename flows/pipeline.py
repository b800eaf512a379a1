"""The storythreads Prefect flow: one thin task per stage, artifacts for the Prefect UI."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from clustering import nightly
from clustering.duplicates import DuplicatePair
from clustering.nightly import Candidates, NightSettings, Tonight, Vectors
from corpus.article import PreparedArticle, ReadResult
from corpus.readers import DEFAULT_MAX_BYTES, read_articles
from corpus.store import Store, ThreadUpdate
from embeddings.choose import EncoderChoice, choose_encoder
from embeddings.encoders import Encoder
from flows.settings import StorythreadsSettings
from reports.render import duplicates_table, summary_lines, threads_table, to_markdown, write_reports
from reports.report import RunInfo, build_night_report

# Stage results are large, in-memory objects: never hash them into cache keys.
_STAGE = {"cache_policy": NO_CACHE}
STAGES = (
    "read articles",
    "choose encoder",
    "take in articles",
    "prepare text",
    "embed passages",
    "index and search candidates",
    "verify duplicates",
    "find story threads",
    "write reports",
)
ProgressListener = Callable[[str, float], None]
_listeners: list[ProgressListener] = []


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

    def done(self, stage: str) -> None:
        nightly.checkpoint(stage)
        percent = 100.0 * (STAGES.index(stage) + 1) / len(STAGES)
        get_run_logger().info("%3.0f%% · %s done", percent, stage)
        if self._artifact is not None:
            update_progress_artifact(self._artifact, percent)
        for listener in _listeners:
            listener(stage, percent)


@task(name="read articles", retries=2, retry_delay_seconds=2, **_STAGE)
def read_task(paths: list[str], max_input_bytes: int) -> ReadResult:
    """Read every input; bad ones are listed as skipped."""
    return read_articles(paths, max_input_bytes)


@task(name="choose encoder", **_STAGE)
def encoder_task(spec: str, device: str | None, batch_size: int) -> EncoderChoice:
    """Load the encoder named by `spec` (falls back to lexical for `auto`)."""
    return choose_encoder(spec, device=device, batch_size=batch_size)


@task(name="take in articles", retries=2, retry_delay_seconds=2, **_STAGE)
def take_in_task(
    store: Store, read: ReadResult, run_id: str, now: datetime, encoder: Encoder, settings: NightSettings
) -> Tonight:
    """Store new and changed articles; work out the window and what to analyse."""
    return nightly.take_in(store, read.articles, run_id, now, encoder, settings)


@task(name="prepare text", **_STAGE)
def prepare_task(store: Store, tonight: Tonight, settings: NightSettings) -> list[PreparedArticle]:
    """Paragraphs, furniture, passages and quotes of the articles to analyse."""
    return nightly.prepare_stored(store, tonight.fresh, settings, save=True)


@task(name="embed passages", **_STAGE)
def embed_task(store: Store, prepared: list[PreparedArticle], encoder: Encoder) -> Vectors:
    """Vectors for passages, quotes and titles; only texts never embedded before are encoded."""
    vectors = nightly.embed_stored(store, prepared, encoder)
    get_run_logger().info("embedded %d texts, %d reused from the store", vectors.embedded, vectors.reused)
    return vectors


@task(name="index and search candidates", **_STAGE)
def index_task(
    store: Store,
    tonight: Tonight,
    prepared: list[PreparedArticle],
    vectors: Vectors,
    encoder: Encoder,
    settings: NightSettings,
) -> Candidates:
    """Add new vectors to the index files; find stored window articles near tonight's and candidate passages."""
    indexes = nightly.update_indexes(store, encoder, settings)
    found = nightly.search_window(store, tonight, vectors, encoder, indexes)
    return nightly.gather_candidates(store, prepared, vectors, found, encoder, settings)


@task(name="verify duplicates", **_STAGE)
def duplicates_task(
    store: Store, tonight: Tonight, candidates: Candidates, encoder: Encoder, settings: NightSettings
) -> list[DuplicatePair]:
    """Verified duplicate pairs with evidence between tonight's articles and the window."""
    return nightly.verify_fresh(store, tonight, candidates, encoder, settings)


@task(name="find story threads", **_STAGE)
def threads_task(
    store: Store,
    tonight: Tonight,
    prepared: list[PreparedArticle],
    settings: NightSettings,
) -> ThreadUpdate:
    """Re-cluster the window and carry thread ids over from the previous run."""
    return nightly.thread_window(store, tonight, prepared, settings)


@task(name="write reports", retries=2, retry_delay_seconds=2, **_STAGE)
def report_task(report: dict[str, Any], outputs: list[str]) -> dict[str, str]:
    """Write report.json, report.md and report.html; publish the UI artifacts."""
    written: dict[str, Path] = {}
    for output in outputs:
        written = write_reports(report, output)
    create_markdown_artifact(
        markdown=to_markdown(report, detail_limit=50),
        key="storythreads-report",
        description="Duplicate-story report of this run",
    )
    new_pairs = [row for row in duplicates_table(report) if row["new"]]
    create_table_artifact(
        table=new_pairs or [{"article_a": "", "article_b": "", "kind": "no new pair tonight"}],
        key="storythreads-new-duplicates",
        description="Duplicate article pairs found tonight",
    )
    create_table_artifact(
        table=threads_table(report) or [{"thread": "", "label": "no thread", "articles": 0}],
        key="storythreads-threads",
        description="Story threads in the retention window",
    )
    create_link_artifact(
        link=written["report.html"].resolve().as_uri(),
        link_text="HTML report",
        key="storythreads-html-report",
        description="The standalone HTML report on the machine that ran the flow",
    )
    return {name: str(path) for name, path in written.items()}


@flow(name="storythreads", log_prints=True)
def storythreads_flow(
    paths: list[str],
    output: str | None = None,
    home: str | None = None,
    db: str | None = None,
    encoder: str | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    max_input_bytes: int = DEFAULT_MAX_BYTES,
    retention_days: float | None = None,
    lock_wait_seconds: float | None = None,
) -> dict[str, Any]:
    """Take in PATHS, compare them with the store's window, update threads and write the reports.

    Parameters left as None come from `STORYTHREADS_*` settings. Reports go to `output`, or
    to `<home>/reports/<run>` and `<home>/reports/latest`. Returns the report (as in
    report.json) and the paths of the written files.
    """
    logger = get_run_logger()
    defaults = StorythreadsSettings()
    started = datetime.now(UTC).replace(tzinfo=None)
    run_id = str(flow_run.get_id() or f"local-{started:%Y%m%dT%H%M%S}")
    settings = NightSettings(retention_days=retention_days or defaults.retention_days)
    progress = _Progress()
    read = read_task(paths, max_input_bytes)
    progress.done("read articles")
    choice = encoder_task(encoder or defaults.encoder, device or defaults.device, batch_size or defaults.batch_size)
    progress.done("choose encoder")
    if choice.fallback_reason:
        logger.warning("encoder %r fell back to %s: %s", choice.requested, choice.encoder.name, choice.fallback_reason)
    home_dir = Path(home).expanduser() if home else defaults.home
    wait = defaults.lock_wait if lock_wait_seconds is None else lock_wait_seconds
    with Store.open(home_dir, db or defaults.db) as store, store.run_lock(wait):
        tonight = take_in_task(store, read, run_id, started, choice.encoder, settings)
        read.articles.clear()  # stored now, and read back as needed: no second copy of every text in memory
        progress.done("take in articles")
        prepared = prepare_task(store, tonight, settings)
        progress.done("prepare text")
        vectors = embed_task(store, prepared, choice.encoder)
        progress.done("embed passages")
        candidates = index_task(store, tonight, prepared, vectors, choice.encoder, settings)
        progress.done("index and search candidates")
        pairs = duplicates_task(store, tonight, candidates, choice.encoder, settings)
        progress.done("verify duplicates")
        update = threads_task(store, tonight, prepared, settings)
        progress.done("find story threads")
        run = RunInfo(
            id=run_id,
            name=flow_run.get_name(),
            started_at=started,
            finished_at=datetime.now(UTC).replace(tzinfo=None),
            encoder=choice.encoder.name,
            encoder_requested=choice.requested,
            encoder_note=choice.fallback_reason,
            vectors_embedded=vectors.embedded,
            vectors_reused=vectors.reused,
            inputs=list(paths),
            store=store.display_url,
            extra={"retention_days": settings.retention_days},
        )
        report = build_night_report(run, store, tonight, prepared, pairs, update, read.skipped)
        outputs = (
            [output]
            if output
            else [str(home_dir / "reports" / _run_folder(started, run_id)), str(home_dir / "reports" / "latest")]
        )
        files = report_task(report, outputs)
        store.finish_run(run_id, run.finished_at, report["run"])
    progress.done("write reports")
    for line in summary_lines(report):
        print(line)
    return {"report": report, "files": files}


def _run_folder(started: datetime, run_id: str) -> str:
    """A report folder name from the run's start and id; never anything read from the inputs."""
    safe_id = re.sub(r"[^A-Za-z0-9-]", "", run_id)[:8] or "run"
    return f"{started:%Y-%m-%dT%H%M%S}_{safe_id}"


def run_flow(
    paths: Sequence[str | Path], on_progress: ProgressListener | None = None, **parameters: Any
) -> dict[str, Any]:
    """Run the flow once in this process, without the per-run heartbeat thread (it costs ~1 s a run)."""
    if on_progress is not None:
        _listeners.append(on_progress)
    try:
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return storythreads_flow([str(p) for p in paths], **parameters)
    finally:
        if on_progress is not None:
            _listeners.remove(on_progress)
