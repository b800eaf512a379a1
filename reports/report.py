"""The run report as plain data: what `report.json` holds and the other formats show.

Built from records alone (`ReportRecords`, loaded from the store by the run): this package
never queries the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from clustering.duplicates import DuplicatePair, PairKind
from clustering.findings import Intake, StoredPair, StoredThread, ThreadUpdate
from corpus.article import PreparedArticle, SkippedInput

REPORT_VERSION = 2


@dataclass(frozen=True)
class RunInfo:
    """Facts about one run that are not findings."""

    id: str
    started_at: datetime
    finished_at: datetime
    encoder: str
    encoder_requested: str
    encoder_note: str | None
    vectors_embedded: int
    inputs: list[str]
    vectors_reused: int = 0
    store: str | None = None
    name: str | None = None
    """The Prefect flow run's name, as the Prefect UI shows it."""
    extra: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    """Seconds each stage took, in stage order."""
    model: str | None = None
    """The multilingual model that read each article's lead for the threads (None: words alone)."""


@dataclass(frozen=True)
class Furniture:
    """A paragraph marked as site furniture: its text and why."""

    text: str
    reason: str


@dataclass
class ReportRecords:
    """What the report shows of the retention window."""

    window: list[str]
    """The window's article ids, in the store's order."""
    facts: dict[str, dict[str, Any]]
    """Article id -> title, source, dates, url, language, encoding."""
    paragraph_counts: dict[str, int]
    furniture: dict[str, list[Furniture]]
    memberships: dict[str, str]
    threads: list[StoredThread]
    pairs: list[StoredPair]


def build_report(
    run: RunInfo,
    records: ReportRecords,
    intake: Intake,
    analysed: Sequence[PreparedArticle],
    found: Sequence[DuplicatePair],
    update: ThreadUpdate,
    skipped: Sequence[SkippedInput],
) -> dict[str, Any]:
    """The report of a run: the window's pairs and threads, tonight's news first (format in the README)."""
    facts = records.facts
    window = records.window
    in_window = set(window)
    paragraph_counts = records.paragraph_counts
    memberships = records.memberships
    stored_threads = {t.id: t for t in records.threads}
    found_keys = {(p.article_a, p.article_b) for p in found}
    pairs = [
        p.evidence | {"new": (p.article_a, p.article_b) in found_keys, "found_run": p.found_run} for p in records.pairs
    ]

    def published(article: str) -> datetime:
        return facts.get(article, {}).get("published_at") or datetime.max

    joined = set(update.memberships)
    threads, unthreaded = [], []
    for thread in stored_threads.values():
        if not in_window & set(thread.members):
            continue
        members = sorted(thread.members, key=lambda a: (published(a), a))
        if len(members) == 1:
            unthreaded.append(members[0])
            continue
        dates = [facts[a]["published_at"] for a in members if a in facts and facts[a]["published_at"]]
        threads.append(
            {
                "id": thread.id,
                "label": thread.label,
                "articles": members,
                "first_published": _iso(min(dates)) if dates else None,
                "last_published": _iso(max(dates)) if dates else None,
                "new_articles": [a for a in members if a in joined],
            }
        )
    threads.sort(key=lambda t: (-len(t["articles"]), t["id"]))
    sizes = {t["id"]: len(t["articles"]) for t in threads}
    labels = {t.id: t.label for t in stored_threads.values()}
    events = update.events
    tonight_section = {
        "new_articles": intake.new,
        "updated_articles": intake.updated,
        "unchanged_articles": len(intake.unchanged),
        "new_duplicates": [_pair_line(p) for p in pairs if p["new"]],
        "new_threads": [
            {"id": e.thread_id, "label": labels.get(e.thread_id, ""), "articles": e.related}
            for e in events
            if e.kind == "new" and sizes.get(e.thread_id, 0) > 1
        ],
        "grown_threads": [
            {"id": e.thread_id, "label": labels.get(e.thread_id, ""), "added": e.related}
            for e in events
            if e.kind == "grew" and sizes.get(e.thread_id, 0) > 1
        ],
        "merges": [{"into": e.thread_id, "merged": e.related} for e in events if e.kind == "merge"],
        "splits": [{"from": e.thread_id, "into": e.related} for e in events if e.kind == "split"],
    }
    analysed_ids = {a.article.id for a in analysed}
    articles = [
        {
            "id": article,
            "title": facts[article]["title"],
            "source": facts[article]["source"],
            "published_at": _iso(facts[article]["published_at"]),
            "published_local": _local(facts[article]["published_at"], facts[article].get("published_offset")),
            "arrived_at": _iso(facts[article]["arrived_at"]),
            "url": facts[article]["url"],
            "language": facts[article]["language"],
            "encoding": facts[article]["encoding"],
            "thread": memberships.get(article),
            "analysed_tonight": article in analysed_ids,
            "paragraphs": paragraph_counts.get(article, 0),
            "furniture": [{"text": f.text, "reason": f.reason} for f in records.furniture.get(article, [])],
        }
        for article in window
        if article in facts
    ]
    counts = {
        "articles_read": len(intake.new) + len(intake.updated) + len(intake.unchanged),
        "articles_new": len(intake.new),
        "articles_updated": len(intake.updated),
        "articles_unchanged": len(intake.unchanged),
        "articles_analysed": len(analysed),
        "articles_in_window": len(window),
        "passages": sum(len(a.passages) for a in analysed),
        "quotes": sum(len(a.quotes) for a in analysed),
    }
    return _assemble(run, counts, articles, pairs, threads, sorted(unthreaded), skipped, tonight_section)


def _assemble(
    run: RunInfo,
    counts: dict[str, int],
    articles: list[dict[str, Any]],
    pairs: list[dict[str, Any]],
    threads: list[dict[str, Any]],
    unthreaded: list[str],
    skipped: Sequence[SkippedInput],
    tonight: dict[str, Any],
) -> dict[str, Any]:
    kinds = Counter(pair["kind"] for pair in pairs)
    return {
        "version": REPORT_VERSION,
        "run": {
            "id": run.id,
            "name": run.name,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "duration_s": round((run.finished_at - run.started_at).total_seconds(), 3),
            "inputs": run.inputs,
            "store": run.store,
            "encoder": run.encoder,
            "model": run.model,
            "encoder_requested": run.encoder_requested,
            "encoder_note": run.encoder_note,
            **counts,
            "articles_skipped": len(skipped),
            "vectors_embedded": run.vectors_embedded,
            "vectors_reused": run.vectors_reused,
            "duplicate_pairs": {kind.value: kinds.get(kind.value, 0) for kind in PairKind},
            "threads": len(threads),
            "unthreaded": len(unthreaded),
            **run.extra,
            "stages": run.stages,
        },
        "tonight": tonight,
        "articles": articles,
        "duplicates": pairs,
        "threads": threads,
        "unthreaded": unthreaded,
        "skipped": [{"input": s.input, "reason": s.reason} for s in skipped],
    }


def _pair_line(pair: dict[str, Any]) -> dict[str, Any]:
    return {"articles": pair["articles"], "kind": pair["kind"], "score": pair["score"]}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _local(moment: datetime | None, offset_minutes: int | None) -> str | None:
    """A UTC moment as its source gave it, with its offset (None when the source gave no zone)."""
    if moment is None or offset_minutes is None:
        return None
    zone = timezone(timedelta(minutes=offset_minutes))
    return moment.replace(tzinfo=UTC).astimezone(zone).isoformat()
