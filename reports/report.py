"""The run report as plain data: what `report.json` holds and the other formats show.

Two builders give the same shape: `build_night_report` (a run against the store: the
window's pairs and threads, and what changed tonight) and `build_report` (one batch in
memory, as benchmarks and `analyse` use it, where everything is new tonight).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clustering.duplicates import DuplicatePair, PairKind, pair_evidence
from clustering.nightly import Tonight
from clustering.pipeline import Analysis
from corpus.article import PreparedArticle, SkippedInput
from corpus.store import Store, ThreadUpdate

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


def build_report(
    run: RunInfo,
    prepared: Sequence[PreparedArticle],
    analysis: Analysis,
    skipped: Sequence[SkippedInput],
) -> dict[str, Any]:
    """The report of one in-memory batch (see the README for the format)."""
    thread_of = analysis.threading.thread_of()
    texts = {a.article.id: a.article.text for a in prepared}
    ids = [a.article.id for a in prepared]
    threads = [
        {
            "id": t.id,
            "label": t.label,
            "articles": t.articles,
            "first_published": _iso(t.first_published),
            "last_published": _iso(t.last_published),
            "new_articles": t.articles,
        }
        for t in analysis.threading.threads
    ]
    pairs = [pair_evidence(pair, texts) | {"new": True} for pair in analysis.duplicates]
    tonight = {
        "new_articles": ids,
        "updated_articles": [],
        "unchanged_articles": 0,
        "new_duplicates": [_pair_line(p) for p in pairs],
        "new_threads": [{"id": t["id"], "label": t["label"], "articles": t["articles"]} for t in threads],
        "grown_threads": [],
        "merges": [],
        "splits": [],
    }
    articles = [_article_entry(a, thread_of.get(a.article.id)) for a in prepared]
    counts = {
        "articles_read": len(prepared),
        "articles_new": len(prepared),
        "articles_updated": 0,
        "articles_unchanged": 0,
        "articles_analysed": len(prepared),
        "articles_in_window": len(prepared),
        "passages": sum(len(a.passages) for a in prepared),
        "quotes": sum(len(a.quotes) for a in prepared),
    }
    return _assemble(run, counts, articles, pairs, threads, analysis.threading.unthreaded, skipped, tonight)


def build_night_report(
    run: RunInfo,
    store: Store,
    tonight: Tonight,
    analysed: Sequence[PreparedArticle],
    found: Sequence[DuplicatePair],
    update: ThreadUpdate,
    skipped: Sequence[SkippedInput],
) -> dict[str, Any]:
    """The report of a run against the store: the window's pairs and threads, tonight's news first."""
    window = tonight.window
    in_window = set(window)
    facts = store.article_facts(window, label_terms=False)
    paragraph_counts = store.paragraph_counts(window)
    furniture = store.furniture(window)
    texts = {a.id: a.text for a in store.articles(furniture)}
    memberships = store.memberships()
    stored_threads = store.threads()
    found_keys = {(p.article_a, p.article_b) for p in found}
    pairs = [
        p.evidence | {"new": (p.article_a, p.article_b) in found_keys, "found_run": p.found_run}
        for p in store.pairs_among(window)
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
        "new_articles": tonight.intake.new,
        "updated_articles": tonight.intake.updated,
        "unchanged_articles": len(tonight.intake.unchanged),
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
            "arrived_at": _iso(facts[article]["arrived_at"]),
            "url": facts[article]["url"],
            "language": facts[article]["language"],
            "encoding": facts[article]["encoding"],
            "thread": memberships.get(article),
            "analysed_tonight": article in analysed_ids,
            "paragraphs": paragraph_counts.get(article, 0),
            "furniture": [
                {"text": texts[article][p.start : p.end], "reason": p.furniture} for p in furniture.get(article, [])
            ],
        }
        for article in window
        if article in facts
    ]
    counts = {
        "articles_read": len(tonight.intake.new) + len(tonight.intake.updated) + len(tonight.intake.unchanged),
        "articles_new": len(tonight.intake.new),
        "articles_updated": len(tonight.intake.updated),
        "articles_unchanged": len(tonight.intake.unchanged),
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
        },
        "tonight": tonight,
        "articles": articles,
        "duplicates": pairs,
        "threads": threads,
        "unthreaded": unthreaded,
        "skipped": [{"input": s.input, "reason": s.reason} for s in skipped],
    }


def _article_entry(prepared: PreparedArticle, thread: str | None) -> dict[str, Any]:
    article = prepared.article
    return {
        "id": article.id,
        "title": article.title,
        "source": article.source,
        "published_at": _iso(article.published_at),
        "arrived_at": None,
        "url": article.url,
        "language": article.language,
        "encoding": article.encoding,
        "thread": thread,
        "analysed_tonight": True,
        "paragraphs": len(prepared.paragraphs),
        "furniture": [{"text": p.text, "reason": p.boilerplate} for p in prepared.paragraphs if p.boilerplate],
    }


def _pair_line(pair: dict[str, Any]) -> dict[str, Any]:
    return {"articles": pair["articles"], "kind": pair["kind"], "score": pair["score"]}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
