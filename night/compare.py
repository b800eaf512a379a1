"""Two articles compared by the run's own stages, against a temporary store."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from clustering.duplicates import DuplicatePair
from clustering.groups import DuplicateGroup
from corpus.article import Article, PreparedArticle
from night.intake import prepare_stored
from night.run import opened, run_stages
from night.settings import NightSettings
from night.stages import Night
from night.threads import story_name


@dataclass
class Comparison:
    """The evidence between two articles: their pair (None when nothing is shared) and story similarity."""

    first: PreparedArticle
    second: PreparedArticle
    pair: DuplicatePair | None
    story_similarity: float
    """Cosine of the two articles' story vectors (the vectors the thread stage clusters; IDF from the two);
    1 for two articles of one duplicate group, which the thread stage takes as one."""
    group: DuplicateGroup | None = None
    """The duplicate group the two form when they carry the same reporting text (then `pair` is None)."""


def compare_articles(
    first: Article, second: Article, encoder: str = "lexical", settings: NightSettings | None = None
) -> Comparison:
    """Run every stage on `first` and `second` alone, in a temporary store, and return what they share."""
    if first.id == second.id:
        raise ValueError(f"compare needs two different articles, got the id {first.id!r} twice")
    settings = settings or NightSettings()
    with tempfile.TemporaryDirectory(prefix="storythreads-compare-") as home, opened(home) as store:
        night = Night.asked(
            store=store,
            paths=[],
            run_id="compare",
            started=datetime.now(UTC).replace(tzinfo=None),
            settings=settings,
            encoder_spec=encoder,
            articles=[first, second],
        )
        run_stages(night)
        by_id = {p.article.id: p for p in night.prepared}
        assert night.tonight is not None
        if night.tonight.groups:  # one was analysed for both: the other is prepared to be shown
            (copy,) = [a for a in (first.id, second.id) if a not in by_id]
            by_id.update({p.article.id: p for p in prepare_stored(store, [copy], settings, False)})
            return Comparison(by_id[first.id], by_id[second.id], None, 1.0, night.tonight.groups[0])
        threads = settings.threads if night.model is None else settings.threads.with_model()
        vectors = store.article_vectors(story_name(threads, night.model), [first.id, second.id])
        similarity = float(np.asarray(vectors[first.id], np.float32) @ np.asarray(vectors[second.id], np.float32))
        return Comparison(by_id[first.id], by_id[second.id], night.pairs[0] if night.pairs else None, similarity)
