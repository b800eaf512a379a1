"""Story vectors: hashed TF-IDF of content words, with document frequencies kept in the store."""

from __future__ import annotations

import numpy as np
import pytest

from clustering.story import StoryVectoriser, TermStatistics, term_hashes
from store import Store


def _corpus() -> list[list[str]]:
    """Twenty articles on the usual business of government, two of which name the same rare people."""
    common = ["government", "minister", "said", "today", "statement", "officials", "meeting", "country"]
    articles = [common + [f"topic{i}", f"place{i}"] for i in range(20)]
    articles[3] = common[:3] + ["wooster", "jeffrey", "amman"]
    articles[7] = common[3:6] + ["wooster", "jeffrey", "amman"]
    return articles


def test_articles_naming_the_same_rare_people_are_closer_than_articles_sharing_common_words() -> None:
    terms = _corpus()
    texts = [term_hashes(found) for found in terms]
    statistics = TermStatistics()
    statistics.add(texts)
    no_titles = [np.zeros(0, np.uint64)] * len(texts)
    vectors = StoryVectoriser(dim=1024, title_weight=0).vectors(texts, no_titles, statistics)

    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    rare = float(vectors[3] @ vectors[7])  # three rare names shared, no common word
    common = float(vectors[0] @ vectors[1])  # eight common words shared
    assert rare > 0.4 and rare > common
    # without IDF (every term in every article as rare as the next) the common words win
    flat = TermStatistics()
    flat.add([term_hashes(sorted({t for found in terms for t in found}))])
    unweighted = StoryVectoriser(dim=1024, title_weight=0).vectors(texts, no_titles, flat)
    assert float(unweighted[0] @ unweighted[1]) > float(unweighted[3] @ unweighted[7])


def test_a_shared_title_pulls_two_articles_together() -> None:
    texts = [term_hashes(["flood", "river", "rain", "village"]), term_hashes(["court", "ruling", "judge", "appeal"])]
    titles = [term_hashes(["dam", "collapse"]), term_hashes(["dam", "collapse"])]
    statistics = TermStatistics()
    statistics.add(texts + titles)
    apart = StoryVectoriser(title_weight=0).vectors(texts, titles, statistics)
    together = StoryVectoriser(title_weight=0.5).vectors(texts, titles, statistics)
    assert abs(float(apart[0] @ apart[1])) < 0.1
    assert float(together[0] @ together[1]) > 0.15


def test_term_statistics_count_each_article_once_per_term_and_keep_in_the_store(tmp_path) -> None:
    statistics = TermStatistics()
    statistics.add([term_hashes(["dam", "dam", "dam", "river"]), term_hashes(["dam"])])
    dam, river, unseen = term_hashes(["dam", "river", "never-seen"])
    assert statistics.documents == 2
    assert statistics.idf(np.array([dam, river, unseen])).tolist() == pytest.approx(
        [np.log1p(2 / 2), np.log1p(2 / 1), np.log1p(2 / 1)]
    )
    with Store.open(tmp_path / "home") as store:
        assert store.term_statistics("story") is None
        store.save_term_statistics("story", statistics.documents, statistics.to_bytes())
        store.save_term_statistics("story", statistics.documents, statistics.to_bytes())  # replaces
        documents, blob = store.term_statistics("story")
    again = TermStatistics.from_bytes(documents, blob)
    assert again.documents == 2 and np.array_equal(again.counts, statistics.counts)


def test_vectoriser_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="power of two >= 16, got 1000"):
        StoryVectoriser(dim=1000)
    with pytest.raises(ValueError, match="title_weight must be >= 0, got -1"):
        StoryVectoriser(title_weight=-1)
    assert StoryVectoriser(1024, 0.5).name != StoryVectoriser(2048, 0.5).name
