"""The PAN text-reuse format: documents read as articles, annotations as truth, reuse found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from corpus.pan import read_pan_annotations
from corpus.readers import read_articles
from embeddings.index import candidate_pairs
from tests.batch import analyse

SOURCE = (
    "تأسست الجمعية الوطنية لحماية البيئة في مطلع الثمانينيات على يد مجموعة من العلماء والناشطين. "
    "وقد عملت الجمعية منذ ذلك الحين على رصد التلوث في الأنهار والبحيرات ونشر تقارير سنوية عن حالة المياه. "
    "كما أطلقت برامج توعية في المدارس لتعليم الطلاب أهمية الحفاظ على الموارد الطبيعية وترشيد استهلاك الطاقة."
)


@pytest.fixture
def pan_corpus(tmp_path: Path) -> Path:
    (tmp_path / "suspicious-documents").mkdir()
    (tmp_path / "source-documents").mkdir()
    (tmp_path / "plagiarism-annotation").mkdir()
    filler = "يتناول هذا التقرير تاريخ المدينة القديمة وأسواقها الشعبية وحرفها التقليدية التي توارثتها الأجيال. " * 3
    source = "مقدمة عامة عن المنظمات الأهلية في المنطقة العربية ودورها.\n" + SOURCE + "\nخاتمة."
    suspicious = filler + SOURCE + " " + filler
    (tmp_path / "source-documents" / "source-document00001.txt").write_text(source, encoding="utf-8")
    unrelated = "فاز الفريق المحلي بالبطولة بعد مباراة نهائية مثيرة حضرها آلاف المشجعين في الملعب الكبير. " * 3
    (tmp_path / "source-documents" / "source-document00002.txt").write_text(unrelated, encoding="utf-8")
    (tmp_path / "suspicious-documents" / "suspicious-document0001.txt").write_text(suspicious, encoding="utf-8")
    (tmp_path / "plagiarism-annotation" / "suspicious-document0001.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<document reference="suspicious-document0001.txt">\n'
        f'<feature name="plagiarism" this_offset="{len(filler)}" this_length="{len(SOURCE)}" '
        f'source_reference="source-document00001.txt" source_offset="{source.index(SOURCE)}" '
        f'source_length="{len(SOURCE)}" obfuscation="none" type="artificial"/>\n</document>\n',
        encoding="utf-8",
    )
    return tmp_path


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
