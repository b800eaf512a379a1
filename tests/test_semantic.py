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

THRESHOLDS = SemanticThresholds(reworded=0.94, translated=0.88)


def _unit(rows: list[list[float]]) -> np.ndarray:
    matrix = np.array(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def _articles(paragraphs: int) -> tuple:
    text = "\n".join(f"Paragraph number {i} tells what the minister said about the harbour." for i in range(paragraphs))
    prepared = prepare_articles([Article("a", "Title A", text), Article("b", "Title B", text)])
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


def test_candidates_take_the_nearest_leads_in_other_languages_and_only_near_copies_in_the_same() -> None:
    leads = _unit([[1, 0, 0], [0.82, 0.57, 0], [0.9, 0.43, 0], [0.999, 0.04, 0], [0, 0, 1]])
    languages = ["en", "ar", "en", "en", "ar"]
    found = candidate_articles([0], leads, languages, set(), SemanticSettings())
    # row 1: Arabic at 0.82; row 2: English at 0.90, below the same-language floor; row 3: English at 0.999
    assert found == [(0, 1), (0, 3)]
    assert candidate_articles([0], leads, languages, {(0, 3)}, SemanticSettings()) == [(0, 1)]
    # at most `candidates_per_article` per language
    many = _unit([[1, 0, 0], [0.9, 0.44, 0], [0.85, 0.53, 0], [0.81, 0.59, 0]])
    assert candidate_articles([0], many, ["en", "ar", "ar", "ar"], set(), SemanticSettings()) == [(0, 1), (0, 2)]


def test_settings_out_of_range_are_named() -> None:
    with pytest.raises(ValueError, match="min_share must be in \\(0, 1\\], got 1.5"):
        SemanticSettings(min_share=1.5)
    with pytest.raises(ValueError, match="got 0, 2 and 8"):
        SemanticSettings(candidates_per_article=0)
