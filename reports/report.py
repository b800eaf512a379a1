"""The run report as plain data: what `report.json` holds and the other formats show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clustering.duplicates import PairKind, pair_evidence
from clustering.pipeline import Analysis
from corpus.article import PreparedArticle, SkippedInput

REPORT_VERSION = 1


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


def build_report(
    run: RunInfo,
    prepared: Sequence[PreparedArticle],
    analysis: Analysis,
    skipped: Sequence[SkippedInput],
) -> dict[str, Any]:
    """The whole report as JSON-ready data (see the README for the format)."""
    thread_of = analysis.threading.thread_of()
    texts = {a.article.id: a.article.text for a in prepared}
    kinds = Counter(pair.kind.value for pair in analysis.duplicates)
    return {
        "version": REPORT_VERSION,
        "run": {
            "id": run.id,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "duration_s": round((run.finished_at - run.started_at).total_seconds(), 3),
            "inputs": run.inputs,
            "encoder": run.encoder,
            "encoder_requested": run.encoder_requested,
            "encoder_note": run.encoder_note,
            "articles_read": len(prepared),
            "articles_skipped": len(skipped),
            "passages": sum(len(a.passages) for a in prepared),
            "quotes": sum(len(a.quotes) for a in prepared),
            "vectors_embedded": run.vectors_embedded,
            "duplicate_pairs": {kind.value: kinds.get(kind.value, 0) for kind in PairKind},
            "threads": len(analysis.threading.threads),
            "unthreaded": len(analysis.threading.unthreaded),
        },
        "articles": [
            {
                "id": a.article.id,
                "title": a.article.title,
                "source": a.article.source,
                "published_at": _iso(a.article.published_at),
                "url": a.article.url,
                "language": a.article.language,
                "thread": thread_of.get(a.article.id),
                "paragraphs": len(a.paragraphs),
                "furniture": [{"text": p.text, "reason": p.boilerplate} for p in a.paragraphs if p.boilerplate],
            }
            for a in prepared
        ],
        "duplicates": [pair_evidence(pair, texts) for pair in analysis.duplicates],
        "threads": [
            {
                "id": t.id,
                "label": t.label,
                "articles": t.articles,
                "first_published": _iso(t.first_published),
                "last_published": _iso(t.last_published),
            }
            for t in analysis.threading.threads
        ],
        "unthreaded": analysis.threading.unthreaded,
        "skipped": [{"input": s.input, "reason": s.reason} for s in skipped],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
