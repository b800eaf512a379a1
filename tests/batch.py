"""A one-off batch for tests: every stage of a run on some articles, against a temporary store."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from corpus.article import Article, PreparedArticle
from embeddings.encoders import Encoder, LexicalEncoder
from night.run import run_night, run_stages
from night.settings import NightSettings
from night.stages import Night
from reports.report import held_whole
from store import Store

NOW = datetime(2026, 11, 23, 2)


def analyse(
    articles: Sequence[Article], settings: NightSettings | None = None, encoder: Encoder | None = None
) -> Night:
    """The night that ran the stages on `articles`: its `pairs`, `threads`, `prepared` and `report`."""
    with tempfile.TemporaryDirectory(prefix="storythreads-test-") as home, Store.open(home) as store:
        return _held(run_night(store, articles, encoder or LexicalEncoder(), "batch", NOW, settings))


def analyse_paths(paths: Sequence[str | Path]) -> Night:
    """The night that read `paths` (files or folders, bad inputs skipped) and ran every stage, lexical encoder."""
    with tempfile.TemporaryDirectory(prefix="storythreads-test-") as home, Store.open(home) as store:
        night = Night.asked(
            store=store, paths=[str(p) for p in paths], run_id="batch", started=NOW, encoder_spec="lexical"
        )
        with store.run_lock():
            return _held(run_stages(night))


def _held(night: Night) -> Night:
    """`night` with its report read whole while its store is open (the store goes with the batch)."""
    if night.report is not None:
        night.report = held_whole(night.report)
    return night


def threads_of(night: Night) -> dict[str, str]:
    """Article id -> thread id for the articles in a thread of two or more, from the run's report."""
    assert night.report is not None
    return {article: thread["id"] for thread in night.report["threads"] for article in thread["articles"]}


def text_vectors(prepared: Sequence[PreparedArticle], encoder: Encoder) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of every passage and every quote of `prepared`, rows in their order."""
    passages = [p.text for a in prepared for p in a.passages]
    quotes = [q.text for a in prepared for q in a.quotes]
    empty = np.zeros((0, encoder.dim), dtype=np.float32)
    return (encoder.encode(passages) if passages else empty, encoder.encode(quotes) if quotes else empty)
