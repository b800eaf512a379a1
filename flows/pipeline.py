"""The storythreads Prefect flow: one thin task per stage, artifacts for the Prefect UI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from clustering import pipeline as stages
from clustering.duplicates import DuplicatePair
from clustering.pipeline import Analysis, Embeddings, PipelineSettings
from clustering.threads import Threading
from corpus.article import PreparedArticle, ReadResult
from corpus.prepare import prepare_articles
from corpus.readers import DEFAULT_MAX_BYTES, read_articles
from embeddings.choose import EncoderChoice, choose_encoder
from embeddings.encoders import Encoder
from embeddings.index import CandidatePairs
from reports.render import duplicates_table, summary_lines, to_markdown, write_reports
from reports.report import RunInfo, build_report

# Stage results are large, in-memory objects: never hash them into cache keys.
_STAGE = {"cache_policy": NO_CACHE}


@task(name="read articles", retries=2, retry_delay_seconds=2, **_STAGE)
def read_task(paths: list[str], max_input_bytes: int) -> ReadResult:
    """Read every input; bad ones are listed as skipped."""
    return read_articles(paths, max_input_bytes)


@task(name="choose encoder", **_STAGE)
def encoder_task(spec: str, device: str | None, batch_size: int) -> EncoderChoice:
    """Load the encoder named by `spec` (falls back to lexical for `auto`)."""
    return choose_encoder(spec, device=device, batch_size=batch_size)


@task(name="prepare text", **_STAGE)
def prepare_task(read: ReadResult, settings: PipelineSettings) -> list[PreparedArticle]:
    """Paragraphs, furniture, passages and quotes of every article."""
    return prepare_articles(read.articles, settings.prepare)


@task(name="embed passages", **_STAGE)
def embed_task(prepared: list[PreparedArticle], encoder: Encoder) -> Embeddings:
    """Vectors for passages, quotes and titles."""
    return stages.embed(prepared, encoder)


@task(name="index and search candidates", **_STAGE)
def index_task(prepared: list[PreparedArticle], embeddings: Embeddings, encoder: Encoder) -> CandidatePairs:
    """Candidate passage pairs from the FAISS index."""
    return stages.index_candidates(prepared, embeddings, encoder)


@task(name="verify duplicates", **_STAGE)
def duplicates_task(
    prepared: list[PreparedArticle],
    embeddings: Embeddings,
    candidates: CandidatePairs,
    encoder: Encoder,
    settings: PipelineSettings,
) -> list[DuplicatePair]:
    """Verified duplicate pairs with evidence."""
    return stages.duplicates(prepared, embeddings, candidates, encoder, settings.duplicates)


@task(name="find story threads", **_STAGE)
def threads_task(
    prepared: list[PreparedArticle], embeddings: Embeddings, pairs: list[DuplicatePair], settings: PipelineSettings
) -> Threading:
    """HDBSCAN story threads."""
    return stages.threads(prepared, embeddings, pairs, settings.threads)


@task(name="write reports", retries=2, retry_delay_seconds=2, **_STAGE)
def report_task(report: dict[str, Any], output: str) -> dict[str, str]:
    """Write report.json, report.md and report.html; publish the UI artifacts."""
    paths = write_reports(report, output)
    create_markdown_artifact(
        markdown=to_markdown(report, detail_limit=50),
        key="storythreads-report",
        description="Duplicate-story report of this run",
    )
    rows = duplicates_table(report)
    create_table_artifact(
        table=rows or [{"article_a": "", "article_b": "", "kind": "none found"}],
        key="storythreads-duplicates",
        description="Duplicate article pairs found in this run",
    )
    create_link_artifact(
        link=paths["report.html"].resolve().as_uri(),
        link_text="HTML report",
        key="storythreads-html-report",
        description="The standalone HTML report on the machine that ran the flow",
    )
    return {name: str(path) for name, path in paths.items()}


@flow(name="storythreads", log_prints=True)
def storythreads_flow(
    paths: list[str],
    output: str = "storythreads-report",
    encoder: str = "auto",
    device: str | None = None,
    batch_size: int = 64,
    max_input_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, Any]:
    """Read, prepare, embed, index, find duplicates and threads, and write the reports.

    Returns the report (as in report.json) and the paths of the written files.
    """
    logger = get_run_logger()
    started = datetime.now(UTC)
    settings = PipelineSettings()
    read = read_task(paths, max_input_bytes)
    choice = encoder_task(encoder, device, batch_size)
    if choice.fallback_reason:
        logger.warning("encoder %r fell back to %s: %s", encoder, choice.encoder.name, choice.fallback_reason)
    prepared = prepare_task(read, settings)
    embeddings = embed_task(prepared, choice.encoder)
    candidates = index_task(prepared, embeddings, choice.encoder)
    pairs = duplicates_task(prepared, embeddings, candidates, choice.encoder, settings)
    threading = threads_task(prepared, embeddings, pairs, settings)
    run = RunInfo(
        id=str(flow_run.get_id() or "local"),
        started_at=started,
        finished_at=datetime.now(UTC),
        encoder=choice.encoder.name,
        encoder_requested=choice.requested,
        encoder_note=choice.fallback_reason,
        vectors_embedded=embeddings.count,
        inputs=list(paths),
    )
    report = build_report(run, prepared, Analysis(pairs, threading), read.skipped)
    files = report_task(report, output)
    for line in summary_lines(report):
        print(line)
    return {"report": report, "files": files}


def run_flow(paths: Sequence[str | Path], **parameters: Any) -> dict[str, Any]:
    """Run the flow once, without the per-run heartbeat thread (it costs ~1 s a run)."""
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return storythreads_flow([str(p) for p in paths], **parameters)
