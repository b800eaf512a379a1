"""The matching form of text, paragraphs and windows."""

from __future__ import annotations

import pytest

from corpus.segment import WindowSettings, paragraph_spans, window_spans
from corpus.text import content_terms, fold
from corpus.tokens import arabic_share


@pytest.mark.parametrize(
    ("variant", "plain"),
    [
        ("أعلن إعلان آمن", "اعلن اعلان امن"),  # alef with hamza above/below, madda
        ("مُحَمَّدٌ", "محمد"),  # diacritics
        ("الســـلام", "السلام"),  # tatweel
        ("مستشفى", "مستشفي"),  # alef maqsura
        ("مدرسة", "مدرسه"),  # ta marbuta
        ("٢٠٢٠ و۱۹", "2020 و19"),  # Arabic-Indic and extended digits
        ("“قال” «نعم» ”لا“ ‘هذا’", '"قال" "نعم" "لا" \'هذا\''),  # quote marks of every shape
        ("2019–2020 — الآن", "2019-2020 - الان"),  # dashes
        ("ﻻ", "لا"),  # presentation-form ligature
        ("Reuters SAID", "reuters said"),
    ],
)
def test_fold_makes_variants_equal(variant: str, plain: str) -> None:
    assert fold(variant) == fold(plain) == plain


def test_fold_is_idempotent_on_the_seeds(seeds_dir) -> None:
    for path in seeds_dir.glob("*.txt"):
        once = fold(path.read_text(encoding="utf-8"))
        assert fold(once) == once


def test_content_terms_ignore_function_words_and_clitics() -> None:
    assert content_terms(fold("وقال المسؤول في الوزارة إن الوزارة")) == content_terms(fold("قال مسؤول وزارة وزارة"))
    assert "في" not in content_terms(fold("في البيت"))


def test_paragraphs_are_non_blank_lines_with_offsets() -> None:
    text = "العنوان\n\n  فقرة أولى  \r\nفقرة ثانية\n   \n"
    spans = paragraph_spans(text)
    assert [text[s:e] for s, e in spans] == ["العنوان", "فقرة أولى", "فقرة ثانية"]


def test_short_paragraph_is_one_passage() -> None:
    text = "كلمة " * 30
    assert window_spans(text, 0, len(text.rstrip()), WindowSettings()) == [(0, len(text.rstrip()))]


def test_long_paragraph_is_cut_into_overlapping_windows_that_cover_it() -> None:
    sentences = [f"هذه الجملة رقم {i} في فقرة طويلة جدا عن موضوع واحد." for i in range(40)]
    text = " ".join(sentences)
    settings = WindowSettings(max_words=70, window_words=45, stride_words=20, snap_words=6)
    spans = window_spans(text, 0, len(text), settings)
    assert len(spans) > 3
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False):
        assert next_start < end, "consecutive windows overlap, so no passage falls between them"
    for start, end in spans:
        assert len(text[start:end].split()) <= settings.window_words + settings.stride_words
        assert start == 0 or text[start - 2] == ".", "windows start at sentence starts when one is near"


def test_a_few_sentences_reused_inside_a_long_paragraph_get_a_window_of_their_own() -> None:
    filler = " ".join(f"جملة حشو عادية رقم {i} عن أمر آخر." for i in range(30))
    reused = "أعلنت الحكومة اليوم خطة جديدة لدعم المزارعين في الجنوب وتوفير المياه للقرى البعيدة."
    text = f"{filler} {reused} {filler}"
    start = text.index(reused)
    spans = window_spans(text, 0, len(text), WindowSettings())
    assert any(s <= start and start + len(reused) <= e for s, e in spans)


def test_windows_of_a_paragraph_deep_inside_the_text_cover_that_paragraph() -> None:
    heading = "عنوان المقال\n" + "فقرة قصيرة أولى.\n" * 20
    paragraph = " ".join(f"جملة رقم {i} في الفقرة الطويلة." for i in range(60))
    text = heading + paragraph + "\nخاتمة"
    start = len(heading)
    spans = window_spans(text, start, start + len(paragraph), WindowSettings())
    assert spans[0][0] == start and spans[-1][1] == start + len(paragraph)
    assert all(start <= s < e <= start + len(paragraph) for s, e in spans)


def test_window_settings_reject_impossible_values() -> None:
    with pytest.raises(ValueError, match="stride_words=50"):
        WindowSettings(window_words=40, stride_words=50)


@pytest.mark.parametrize(
    ("text", "share"),
    [
        ("", 0.0),
        ("2020 ، ؟ 123 -- ٣", 0.0),  # digits and punctuation (Arabic ones too) are no letters
        ("قال الوزير", 1.0),
        ("قال Reuters", 3 / 10),
        ("𝐀𝐁 مر", 0.5),  # letters outside the Basic Multilingual Plane count as letters
    ],
)
def test_arabic_share_counts_letters_only(text: str, share: float) -> None:
    """The reader marks an article Arabic by this share when its input names no language."""
    assert arabic_share(text) == pytest.approx(share)
