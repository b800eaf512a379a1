"""The stages of a storythreads run, in order: the one place that order is written.

`night.run` runs them in this process; `flows/` runs each as a Prefect task; `storythreads
compare` and the benchmarks run them against a temporary store. Each stage is a plain function
of the run's `Night`: it reads what earlier stages left there (or loads it from the store),
calls the algorithms, saves what it found and leaves its result for the next stage.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clustering.duplicates import DuplicatePair
from clustering.findings import ThreadUpdate
from corpus.article import Article, PreparedArticle, ReadResult
from corpus.feeds import FeedArticles
from corpus.files import mirror
from corpus.readers import DEFAULT_MAX_ARTICLE_BYTES, read_articles
from corpus.tokens import TermTable
from corpus.web import Fetcher, FetchSettings
from embeddings.choose import EncoderChoice, choose_encoder
from embeddings.encoders import Encoder
from executor import Executor
from night import intake, memory
from night.embedding import Vectors, embed_stored, lead_vectors
from night.intake import Tonight, group_prepared, prepare_and_keep, worth_workers
from night.report import load_report_records
from night.search import Candidates, gather_candidates, search_window, update_indexes
from night.settings import NightSettings
from night.threads import thread_window
from night.verification import verify_fresh
from night.window import Window
from reports.render import read_back, write_reports
from reports.report import RunInfo, build_report
from store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    """What a run was asked to do: its inputs, id and start, settings, encoder, and where its reports go."""

    paths: list[str]
    run_id: str
    started: datetime
    settings: NightSettings = field(default_factory=NightSettings)
    encoder_spec: str = "auto"
    device: str | None = None
    batch_size: int = 64
    max_article_bytes: int | None = None
    fetch_cache: str | None = None
    """Folder where fetched feeds and pages are kept between nights (None: not kept)."""
    fetch: FetchSettings = field(default_factory=FetchSettings)
    outputs: list[str] = field(default_factory=list)
    """Folders the reports are written to (none: no report files)."""
    run_name: str | None = None


@dataclass(frozen=True)
class PrefetchedRead:
    """Inputs read before the run began (`night.run.warm_up`, while Prefect's server boots), and how long that took."""

    result: ReadResult
    seconds: float


@dataclass
class Night:
    """One run: its request, the store and executor it works with, and what each stage left (its state)."""

    request: RunRequest
    store: Store
    executor: Executor | None = None
    """Where the parallel steps of a large night run (see `night.run.executor_for`); None: this process."""
    articles: list[Article] | None = None
    """Articles handed over in memory instead of read from the request's paths (tests, `compare`)."""
    prefetched: PrefetchedRead | None = None
    """What was read from the request's paths before the run began (`night.run.warm_up`), for the read stage."""

    read: ReadResult | None = None
    choice: EncoderChoice | None = None
    tonight: Tonight | None = None
    prepared: list[PreparedArticle] = field(default_factory=list)
    terms: TermTable | None = None
    """The stems of the terms of tonight's prepared articles (`corpus.tokens.TermTable`)."""
    on_workers: Executor | None = None
    """`executor` if tonight's text is large enough for its workers (decided when preparing), else None."""
    vectors: Vectors | None = None
    candidates: Candidates | None = None
    pairs: list[DuplicatePair] = field(default_factory=list)
    threads: ThreadUpdate | None = None
    report: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)
    stage_started: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    """Seconds each stage took, in stage order (the report's `run.stages`)."""
    memory: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """Resident MiB of the run's process as each stage started and at its peak (the report's `run.memory_mib`)."""
    _window: Window | None = None

    @classmethod
    def asked(
        cls,
        store: Store,
        executor: Executor | None = None,
        articles: list[Article] | None = None,
        choice: EncoderChoice | None = None,
        prefetched: PrefetchedRead | None = None,
        **request: Any,
    ) -> Night:
        """A night for the run `request` describes (`RunRequest`'s fields) on `store`."""
        return cls(RunRequest(**request), store, executor, articles, prefetched, choice=choice)

    @property
    def run_id(self) -> str:
        return self.request.run_id

    @property
    def started(self) -> datetime:
        return self.request.started

    @property
    def settings(self) -> NightSettings:
        return self.request.settings

    @property
    def window(self) -> Window:
        """The window's articles as the stages ask for them (`night.window.Window`), made at first use."""
        if self._window is None:
            self._window = Window(self.store, self.settings, self.model, self.executor)
        return self._window

    @property
    def encoder(self) -> Encoder:
        if self.choice is None:
            raise RuntimeError("the encoder is chosen by the 'choose encoder' stage, which has not run")
        return self.choice.encoder

    @property
    def model(self) -> Encoder | None:
        """The multilingual model that reads leads (story vectors, candidate pairs) and verifies pairs, if any."""
        return self.choice.model if self.choice is not None else None


def read(night: Night) -> None:
    """Read every input; bad ones are listed as skipped."""
    if night.articles is not None:
        night.read = ReadResult(list(night.articles), [])
        night.articles = None
    elif night.prefetched is not None:
        night.read = night.prefetched.result
        # the stage's seconds are what reading took, though it was done before the stage began
        night.stage_started -= night.prefetched.seconds
        night.prefetched = None
    else:
        fetcher = Fetcher(Path(night.request.fetch_cache) if night.request.fetch_cache else None, night.request.fetch)
        try:
            limit = night.request.max_article_bytes or DEFAULT_MAX_ARTICLE_BYTES
            night.read = read_articles(night.request.paths, limit, FeedArticles(fetcher))
        finally:
            fetcher.close()


def choose(night: Night) -> None:
    """Load the encoder asked for (`auto` falls back to lexical, with the reason)."""
    if night.choice is not None:  # handed over already loaded (tests, benchmarks of one encoder object)
        return
    night.choice = choose_encoder(
        night.request.encoder_spec, device=night.request.device, batch_size=night.request.batch_size
    )
    if night.choice.fallback_reason:
        log.warning(
            "encoder %r fell back to %s: %s",
            night.choice.requested,
            night.choice.encoder.name,
            night.choice.fallback_reason,
        )
    elif night.choice.model is not None:
        log.info(
            "the model %s reads each article's lead; passages are compared with %s",
            night.choice.model.name,
            night.choice.encoder.name,
        )


def take_in(night: Night) -> None:
    """Store new and changed articles; work out the window and what to analyse."""
    assert night.read is not None
    night.tonight = intake.take_in(
        night.store, night.read.articles, night.run_id, night.started, night.encoder, night.settings
    )
    night.read.articles.clear()  # stored now, and read back as needed: no second copy of every text in memory


def prepare(night: Night) -> None:
    """Paragraphs, furniture, passages and quotes of the articles to analyse; those whose passages are another
    article's join its duplicate group."""
    assert night.tonight is not None
    prepared, night.terms = prepare_and_keep(night.store, night.tonight.fresh, night.settings, night.executor)
    night.tonight, night.prepared = group_prepared(night.store, night.tonight, prepared, night.encoder)
    night.window.keep(night.prepared)
    chars = sum(len(article.article.text) for article in night.prepared)
    night.on_workers = worth_workers(night.executor, chars, night.settings)


def embed(night: Night) -> None:
    """Vectors for passages, quotes and titles (and a model's for each lead); only texts never embedded are encoded."""
    night.vectors = embed_stored(
        night.store, night.prepared, night.encoder, executor=night.on_workers, terms=night.terms
    )
    night.terms = None  # the stems were for encoding: ids are what the later stages compare
    if night.model is not None:
        _, encoded = lead_vectors(night.store, night.prepared, night.model)
        log.info("the model read %d leads (%d more from the store)", encoded, len(night.prepared) - encoded)
        night.vectors.embedded += encoded
        night.vectors.reused += len(night.prepared) - encoded
    log.info("embedded %d texts, %d reused from the store", night.vectors.embedded, night.vectors.reused)


def search(night: Night) -> None:
    """Add new vectors to the index files; find stored window articles near tonight's and candidate pairs."""
    assert night.tonight is not None and night.vectors is not None
    indexes = update_indexes(night.store, night.encoder, night.settings, night.vectors)
    found = search_window(night.store, night.tonight, night.prepared, night.vectors, night.encoder, indexes)
    night.candidates = gather_candidates(
        night.store, night.window, night.prepared, night.vectors, found, night.encoder, night.settings, night.on_workers
    )


def verify(night: Night) -> None:
    """Verified duplicate pairs with evidence between tonight's articles and the window; stored."""
    assert night.tonight is not None and night.candidates is not None
    night.pairs = verify_fresh(
        night.store,
        night.tonight,
        night.window,
        night.candidates,
        night.encoder,
        night.settings,
        night.on_workers,
        night.model,
    )
    night.candidates = None  # the other articles' prepared texts are not needed any more
    night.window.release(keep=[article.article.id for article in night.prepared])


def thread(night: Night) -> None:
    """Re-cluster around tonight's articles and carry thread ids over from the stored threads."""
    assert night.tonight is not None
    night.threads = thread_window(night.store, night.tonight, night.window, night.prepared, night.settings, night.model)


def report(night: Night) -> None:
    """Build the report from the stored findings, write it, and record the run as completed."""
    assert night.tonight is not None and night.read is not None and night.vectors is not None
    assert night.threads is not None
    finished = _now()
    info = RunInfo(
        id=night.run_id,
        name=night.request.run_name,
        started_at=night.started,
        finished_at=finished,
        encoder=night.encoder.name,
        model=night.model.name if night.model is not None else None,
        encoder_requested=night.choice.requested if night.choice else night.request.encoder_spec,
        encoder_note=night.choice.fallback_reason if night.choice else None,
        vectors_embedded=night.vectors.embedded,
        vectors_reused=night.vectors.reused,
        inputs=list(night.request.paths),
        store=night.store.display_url,
        extra={"retention_days": night.settings.retention_days},
        stages=dict(night.seconds),
        memory_mib={name: dict(sizes) for name, sizes in night.memory.items()},
    )
    records = load_report_records(night.store, night.tonight.everything, night.tonight.groups)
    night.report = build_report(
        info, records, night.tonight.intake, night.prepared, night.pairs, night.threads, night.read.skipped
    )

    def with_this_stage(report: dict[str, Any]) -> None:
        # this stage's own time so far (report.json, written last, is all that remains), so that
        # report.json carries every stage
        report["run"]["stages"]["write reports"] = round(time.perf_counter() - night.stage_started, 3)
        sizes = report["run"]["memory_mib"]["write reports"]
        sizes["peak"] = memory.peak_since_mark()
        report["run"]["peak_memory_mib"] = memory.process_peak()
        report["run"]["peak_memory_with_helpers_mib"] = memory.peak_with_helpers()
        if (allocated := memory.traced_so_far()) is not None:
            sizes["allocated_peak"] = allocated

    with_this_stage(night.report)
    if night.request.outputs:
        first, *others = night.request.outputs
        # pages unchanged since the last run are linked from its files (`latest`, or the one output folder)
        written = write_reports(night.report, first, with_this_stage, previous=others[-1] if others else first)
        for other in others:  # `latest`: the same files, linked, not written again
            mirror(Path(first), Path(other))
        folder = Path(night.request.outputs[-1])
        night.files = {name: str(folder / path.name) for name, path in written.items()}
        # what follows the run (artifacts, the CLI's summary) reads the long lists from the run's own file
        night.report = read_back(night.report, written["report.json"])
    night.store.finish_run(night.run_id, finished, night.report["run"])


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Stage:
    """A named step of the run."""

    name: str
    run: Callable[[Night], None]
    retries: int = 0
    """How often the orchestrator may run it again after a failure (stages that only read are safe to retry)."""


STAGES: tuple[Stage, ...] = (
    Stage("read articles", read, retries=2),
    Stage("choose encoder", choose),
    Stage("take in articles", take_in),
    Stage("prepare text", prepare),
    Stage("embed passages", embed),
    Stage("index and search candidates", search),
    Stage("verify duplicates", verify),
    Stage("find story threads", thread),
    Stage("write reports", report),
)
STAGE_NAMES: tuple[str, ...] = tuple(stage.name for stage in STAGES)


def report_folders(home: Path, started: datetime, run_id: str) -> list[str]:
    """Where a run's reports go when no output folder is given: its own folder and `latest`."""
    safe_id = re.sub(r"[^A-Za-z0-9-]", "", run_id)[:8] or "run"
    return [str(home / "reports" / f"{started:%Y-%m-%dT%H%M%S}_{safe_id}"), str(home / "reports" / "latest")]
