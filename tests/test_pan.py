"""The PAN text-reuse format: documents read as articles, annotations as truth, reuse found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from corpus.pan import read_pan_annotations
from corpus.readers import read_articles
from embeddings.index import candidate_pairs
from tests.batch import analyse
from tests.conftest import PAN_SOURCE as SOURCE


def test_pan_documents_are_articles_and_annotations_are_not(pan_corpus: Path) -> None:
    result = read_articles([pan_corpus])
    assert sorted(a.id for a in result.articles) == [
        "source-document00001",
        "source-document00002",
        "suspicious-document0001",
    ]
    assert result.skipped == []


def test_pan_annotations_point_at_the_reused_text(pan_corpus: Path) -> None:
    (passage,) = read_pan_annotations(pan_corpus)
    texts = {a.id: a.text for a in read_articles([pan_corpus]).articles}
    assert texts[passage.suspicious][passage.suspicious_start : passage.suspicious_end] == SOURCE
    assert texts[passage.source][passage.source_start : passage.source_end] == SOURCE
    assert passage.obfuscation == "none"


def test_reuse_inside_a_long_paragraph_is_found_with_its_span(pan_corpus: Path) -> None:
    pairs = {pair.articles: pair for pair in analyse(read_articles([pan_corpus]).articles).pairs}
    pair = pairs[("source-document00001", "suspicious-document0001")]
    (passage,) = read_pan_annotations(pan_corpus)
    covered = set()
    for match in pair.matches:
        covered |= set(range(match.start_b, match.end_b))
    reused = set(range(passage.suspicious_start, passage.suspicious_end))
    assert len(covered & reused) / len(reused) > 0.9
    assert ("source-document00002", "suspicious-document0001") not in pairs


def test_missing_annotations_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="plagiarism-annotation"):
        read_pan_annotations(tmp_path)


def test_approximate_index_finds_the_same_close_pairs_as_exact_search() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(3000, 64)).astype(np.float32)
    copies = rng.choice(3000, size=300, replace=False)
    vectors[copies[:150]] = vectors[copies[150:]] + 0.1 * rng.normal(size=(150, 64))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = np.arange(3000)
    exact = candidate_pairs(vectors, owners, 0.8, exact_limit=10_000)
    approximate = candidate_pairs(vectors, owners, 0.8, exact_limit=1_000)
    exact_set = set(zip(exact.left.tolist(), exact.right.tolist(), strict=True))
    approximate_set = set(zip(approximate.left.tolist(), approximate.right.tolist(), strict=True))
    assert len(exact_set) >= 150
    assert approximate_set <= exact_set
    assert len(approximate_set) / len(exact_set) >= 0.99
