"""The model's verdict on pairs the lexical check left apart: alignment, the pair rule, and which pairs it reads."""

from __future__ import annotations

import numpy as np
import pytest

from clustering.duplicates import PairKind
from clustering.semantic import (
    SemanticSettings,
    SemanticThresholds,
    aligned,
    candidate_articles,
    reporting_passages,
    semantic_pair,
)
from corpus.article import Article
from corpus.prepare import prepare_articles

THRESHOLDS = SemanticThresholds(reworded=0.94, translated=0.88)  # round numbers, not the calibrated ones


def _unit(rows: list[list[float]]) -> np.ndarray:
    matrix = np.array(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


SENTENCES = [
    "The harbour authority said the strike had delayed forty container ships for five days.",
    "Union leaders told reporters outside the main gate that wages had not changed in six years.",
    "Importers warned that flour and cooking oil would run short within a fortnight.",
    "The labour minister promised a review of pay across every port in the kingdom.",
    "Shipping lines diverted two vessels to a neighbouring terminal on Thursday evening.",
    "Police reported no arrests during the sit-in, which drew several hundred dock workers.",
]


def _articles(paragraphs: int) -> tuple:
    text = "\n".join(SENTENCES[:paragraphs])
    prepared = prepare_articles([Article("a", "Title A", text), Article("b", "Title B", text)])
    assert all(len(reporting_passages(article, 8)) == paragraphs for article in prepared)
    return prepared[0], prepared[1]


def test_only_mutual_best_paragraphs_above_the_threshold_align() -> None:
    a = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    b = _unit([[1, 0.05, 0], [0.9, 0.1, 0], [0, 0.3, 1]])
    found = aligned(a, b, 0.9)
    assert [(i, j) for i, j, _ in found] == [(0, 0), (2, 2)]  # b's row 1 is nearest to a's row 0, which prefers b 0


def test_two_articles_whose_paragraphs_all_align_across_languages_are_translated() -> None:
    a, b = _articles(4)
    passages = (reporting_passages(a, 8), reporting_passages(b, 8))
    vectors = (np.eye(4, dtype=np.float32), _unit([[1, 0.2, 0, 0], [0, 1, 0.2, 0], [0, 0, 1, 0.2], [0.2, 0, 0, 1]]))
    pair = semantic_pair(a, b, passages, vectors, ("ar", "en"), THRESHOLDS, SemanticSettings())
    assert pair is not None and pair.kind is PairKind.TRANSLATED
    assert len(pair.matches) == 4 and pair.containment_a > 0.5
    # the same vectors in one language need the stricter threshold (0.98 each here: reworded)
    same = semantic_pair(a, b, passages, vectors, ("en", "en"), THRESHOLDS, SemanticSettings())
    assert same is not None and same.kind is PairKind.REWORDED
    # cosines of 0.90 are a translation's, not a rewording's
    looser = (np.eye(4, dtype=np.float32), _unit([[1, 0.48, 0, 0], [0, 1, 0.48, 0], [0, 0, 1, 0.48], [0.48, 0, 0, 1]]))
    assert semantic_pair(a, b, passages, looser, ("en", "en"), THRESHOLDS, SemanticSettings()) is None
    assert semantic_pair(a, b, passages, looser, ("ar", "en"), THRESHOLDS, SemanticSettings()) is not None


def test_one_aligned_paragraph_of_many_is_a_shared_topic_not_a_pair() -> None:
    a, b = _articles(6)
    passages = (reporting_passages(a, 8), reporting_passages(b, 8))
    only_first = np.eye(6, dtype=np.float32)
    other = _unit([[1, 0, 0, 0, 0, 0], *[[0, 0.7, 0.7, 0.7, 0.7, 0.7]] * 5])
    assert semantic_pair(a, b, passages, (only_first, other), ("ar", "en"), THRESHOLDS, SemanticSettings()) is None


def test_candidates_take_the_nearest_lead_in_another_language_and_only_near_copies_in_the_same() -> None:
    leads = _unit([[1, 0, 0], [0.82, 0.57, 0], [0.9, 0.43, 0], [0.999, 0.04, 0], [0, 0, 1], [0.81, 0.59, 0]])
    languages = ["en", "ar", "en", "en", "ar", "fr"]
    found = candidate_articles([0], leads, languages, set(), SemanticSettings())
    # row 3: English at 0.999; row 1: Arabic at 0.82, nearer than French row 5 (one per side);
    # row 2: English at 0.90, below the same-language floor; most similar first
    assert [(a, b) for a, b, _ in found] == [(0, 3), (0, 1)]
    assert found[0][2] == pytest.approx(0.999, abs=1e-3)
    assert [(a, b) for a, b, _ in candidate_articles([0], leads, languages, {(0, 3)}, SemanticSettings())] == [(0, 1)]
    two = candidate_articles([0], leads, languages, set(), SemanticSettings(candidates_per_article=2))
    assert [(a, b) for a, b, _ in two] == [(0, 3), (0, 1), (0, 5)]


def test_settings_out_of_range_are_named() -> None:
    with pytest.raises(ValueError, match="min_share must be in \\(0, 1\\], got 1.5"):
        SemanticSettings(min_share=1.5)
    with pytest.raises(ValueError, match="got 0, 2 and 8"):
        SemanticSettings(candidates_per_article=0)


def test_the_night_budget_grows_with_its_new_articles_from_a_floor() -> None:
    settings = SemanticSettings(passage_budget=1.5, min_passage_budget=200)
    assert settings.budget(10) == 200
    assert settings.budget(1_000) == 1_500


def test_pairs_beyond_the_budget_are_not_read_and_passages_read_before_are_free(tmp_path) -> None:
    from embeddings.encoders import LexicalEncoder
    from night.verification import within_budget
    from store import Store, content_hash

    a, b = _articles(4)
    c = prepare_articles([Article("c", "Title C", "\n".join(SENTENCES[2:6]))])[0]
    passages = {x.article.id: reporting_passages(x, 8) for x in (a, b, c)}
    model = LexicalEncoder()
    with Store.open(tmp_path) as store:
        # a and b carry the same four texts: four passages to read; c adds two more
        assert within_budget(store, model, [("a", "b"), ("a", "c")], passages, 5) == [("a", "b")]
        assert within_budget(store, model, [("a", "b"), ("a", "c")], passages, 6) == [("a", "b"), ("a", "c")]
        texts = {content_hash(p.text): np.zeros(model.dim, dtype=np.float32) for p in passages["c"]}
        store.add_vectors(model.name, "passage", texts)
        assert within_budget(store, model, [("a", "b"), ("a", "c")], passages, 4) == [("a", "b"), ("a", "c")]
