"""The compiled tokenisation: the same terms, at the same offsets, as the Python definition it replaces."""

from __future__ import annotations

import base64
import random

import numpy as np

from bench.corpus import generate
from corpus import tokens
from corpus.text import term_positions
from tests.conftest import SEEDS, generator_texts


def _texts() -> list[str]:
    seeds = [path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt"))]
    generated = [a.text for a in generate(generator_texts(), 80, seed=5).articles]
    odd = [
        "ﻻ إله إلا الله — ﷺ، «قالَ» الوزيرُ: ٢٠٢٠ م",  # presentation forms, diacritics, Arabic-Indic digits
        "The U.N. SECRETARY-General said: 'İstanbul' — ΣΊΣΥΦΟ; naïve café 3.5% x2",
        "وال والولايات بالمدينة للأطفال كالبحر فالحكومة المعلمات المعلمون كتابها كتابه",
        "x" * 70 + " كلمة " + base64.b64encode(random.Random(3).randbytes(60)).decode() + " أخرى",
        "",
        "   \n\t ",
    ]
    return seeds + generated + odd


def test_the_compiled_terms_are_the_python_definitions_term_for_term() -> None:
    texts = _texts()
    found = tokens.tokenise(texts)
    stems = found.stem_strings()
    assert len(found) == len(texts)
    for index, text in enumerate(texts):
        first = int(found.firsts[index])
        terms = found[index]
        got = [(stems[first + k], int(terms.starts[k]), int(terms.ends[k])) for k in range(len(terms))]
        assert got == term_positions(text), text[:80]
    assert len(found.ids) > 10_000


def test_the_compiled_folded_words_are_the_python_definitions_word_for_word() -> None:
    """What a group's reporting key hashes: the same string as `words(fold(text))`, on the texts above, on
    characters that fold by their context (handed to Python) and on random strings of every kind of character."""
    from corpus.text import fold, words

    pool = [chr(c) for c in range(0x20, 0x3000)] + list("أإآىةـًٌٍَُِّْ \t\n_-'İΣσςﬁ²ﷲﻻ") + ["\U0001d400", "\U00010400"]
    rng = random.Random(11)
    strings = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 40))) for _ in range(3_000)]
    for text in _texts() + strings:
        expected = words(fold(text))
        assert tokens.folded_words(text) == (" ".join(expected), len(expected)), text[:80]


def test_the_compiled_junk_count_is_the_python_definitions() -> None:
    """What the reader warns about: the characters of runs without spaces and encoded blobs, as `junk_chars`."""
    from corpus.text import junk_chars

    rng = random.Random(4)
    pieces = ["كلمة", "x" * 70, "abc123def456ghi789jkl012", "ab12" * 7, "\u00a0", " ", "\n", "٣٤٥" * 10, "—" * 30]
    built = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(2_000)]
    blobs = [base64.b64encode(rng.randbytes(rng.randint(10, 80))).decode() + " نص" for _ in range(200)]
    texts = _texts() + built + blobs
    assert sum(junk_chars(text) > 0 for text in texts) > 500
    for text in texts:
        assert tokens.junk_characters(text) == junk_chars(text), text[:80]


def test_a_term_id_is_the_hash_of_its_stem_and_the_same_however_the_word_is_written() -> None:
    found = tokens.tokenise(["الولايات", "والولايات", "بالولايات", "للولايات"])
    assert len(set(found.ids.tolist())) == 1  # the article, the conjunction, the preposition and the suffix go
    assert int(found.ids[0]) == tokens.string_id("لاي")
    assert tokens.term_ids("وزارة الخارجية").tolist() == [tokens.string_id("زار"), tokens.string_id("خارجي")]


def test_function_words_numbers_single_letters_and_junk_give_no_term() -> None:
    blob = base64.b64encode(random.Random(1).randbytes(300)).decode()
    assert tokens.term_ids(f"في من على 2020 ٢٠٢٠ و ب {blob} {'ب' * 65}").tolist() == []


def test_a_tokens_slice_keeps_the_terms_inside_a_span() -> None:
    text = "أعلنت الوزارة اليوم افتتاح المستشفى"
    terms = tokens.tokenise([text])[0]
    inside = terms.within(text.index("الوزارة"), text.index(" افتتاح"))
    assert [text[s:e] for s, e in zip(inside.starts.tolist(), inside.ends.tolist(), strict=True)] == ["الوزارة"]
    assert np.array_equal(inside.ids, tokens.term_ids("الوزارة"))
    spans = [(0, len(text)), (text.index("الوزارة"), text.index(" افتتاح")), (3, 3), (len(text), len(text))]
    many = terms.ids_within(spans)
    assert [found.tolist() for found in many] == [terms.within(*span).ids.tolist() for span in spans]
    assert len(many[0]) == len(terms) == 4 and len(many[2]) == 0 and terms.ids_within([]) == []


def test_the_compiled_windows_and_junk_counts_are_corpus_segments_and_corpus_texts() -> None:
    from corpus.layout import chunk_windows
    from corpus.segment import WindowSettings, paragraph_spans, window_spans
    from corpus.text import junk_chars

    texts = _texts() + ["كلمة " * 150 + ". " + "جملة أخرى. " * 40, "x. " * 100]
    settings = WindowSettings()
    spans = [paragraph_spans(text) for text in texts]
    found = tokens.tokenise(texts)
    starts, ends, inside, firsts, junk = chunk_windows(texts, spans, found.starts, found.ends, found.firsts, settings)
    paragraphs = [
        (text, start, end) for text, text_spans in zip(texts, spans, strict=True) for start, end in text_spans
    ]
    assert len(firsts) == len(paragraphs) + 1 and firsts[-1] == len(starts)
    windowed = 0
    for number, (text, start, end) in enumerate(paragraphs):
        windows = list(
            zip(
                starts[firsts[number] : firsts[number + 1]].tolist(),
                ends[firsts[number] : firsts[number + 1]].tolist(),
                strict=True,
            )
        )
        assert windows == window_spans(text, start, end, settings)
        windowed += len(windows) > 1
        assert junk[number] == junk_chars(text[start:end])
    assert windowed >= 3
