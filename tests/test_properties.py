"""Property tests: text preparation, readers on arbitrary bytes, report writers on arbitrary text."""

from __future__ import annotations

import heapq
import json
import math
import re
import tempfile
from collections import Counter
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clustering.duplicates import PassageMatch, _merge_overlapping
from clustering.labels import thread_label
from clustering.story import term_hashes
from clustering.threads import label_terms, title_terms
from clustering.verify import dense_region, ordered_region
from corpus.article import Article, Passage
from corpus.prepare import prepare_article
from corpus.readers import read_articles
from corpus.segment import WindowSettings, paragraph_spans, window_spans
from corpus.text import fold, term_positions
from corpus.tokens import tokenise
from reports.render import to_json, to_markdown
from reports.site import site_pages
from tests.batch import analyse
from tests.test_labels import rarity

ARABIC = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)
TEXT = st.text(
    alphabet=st.one_of(ARABIC, st.characters(codec="utf-8"), st.sampled_from(" \n«»“”\"'.:،؟")), max_size=400
)
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FEW
@given(TEXT)
def test_fold_never_raises_and_is_idempotent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once


@FEW
@given(st.lists(TEXT, min_size=1, max_size=6))
def test_every_offset_maps_back_to_the_original_text(paragraphs: list[str]) -> None:
    text = "\n".join(paragraphs)
    if not text.strip():
        return
    prepared = prepare_article(Article(id="a", title="t", text=text))
    for paragraph in prepared.paragraphs:
        assert text[paragraph.start : paragraph.end] == paragraph.text
    for passage in prepared.passages:
        assert text[passage.start : passage.end] == passage.text
        assert passage.folded == fold(passage.text)
    for quote in prepared.quotes:
        assert text[quote.start : quote.end] == quote.text


SPACES = st.sampled_from([" ", "\n", "\t", "\xa0", "\u2003", "\u3000", "\u200b", "\x1c"])


@FEW
@given(st.lists(st.one_of(TEXT, SPACES), max_size=30))
def test_the_compiled_tokeniser_finds_the_terms_and_offsets_of_term_positions(pieces: list[str]) -> None:
    text = "".join(pieces)
    found = tokenise([text])
    stems = found.stem_strings()
    assert [(stems[k], int(found.starts[k]), int(found.ends[k])) for k in range(len(stems))] == term_positions(text)
    for start, end in paragraph_spans(text):  # a paragraph's terms are the text's inside it
        inside = found[0].within(start, end)
        assert [(int(s), int(e)) for s, e in zip(inside.starts, inside.ends, strict=True)] == [
            (s, e) for _, s, e in term_positions(text[start:end], start)
        ]


@FEW
@given(
    st.lists(st.lists(st.sampled_from("abcdefghij"), max_size=40), min_size=1, max_size=4),
    st.dictionaries(st.sampled_from("abcdefghij"), st.integers(1, 50)),
    st.integers(1, 60),
    st.integers(0, 6),
)
def test_thread_label_ranks_every_term_by_frequency_times_idf(
    members: list[list[str]], document_frequency: dict[str, int], total: int, count: int
) -> None:
    # the label skips terms that cannot reach the top: it must still pick exactly the top `count`
    frequency = Counter(term for terms in members for term in terms)
    articles = max(total, *document_frequency.values(), 0)
    score = {t: -frequency[t] * math.log(1 + articles / max(document_frequency.get(t, 0), 1)) for t in frequency}
    expected = " · ".join(heapq.nsmallest(count, frequency, key=lambda t: (score[t], t)))
    label = thread_label([""] * len(members), members, rarity(document_frequency, articles), count)
    assert label == expected


@FEW
@given(TEXT, TEXT)
def test_label_terms_kept_by_preparation_are_the_threads_label_terms(title: str, text: str) -> None:
    prepared = prepare_article(Article("a", title, text))
    kept = prepared.label_terms  # found by the compiled tokeniser
    assert kept is not None
    assert kept.terms() == label_terms(prepared)
    assert kept.title.split() == title_terms(prepared)
    assert kept.hashes.tolist() == term_hashes(label_terms(prepared)).tolist()


@FEW
@given(st.binary(max_size=2000), st.sampled_from([".txt", ".jsonl", ".json", ".html", ".ndjson", ".bin"]))
def test_arbitrary_bytes_never_crash_the_readers(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        result = read_articles([path])
    assert result.articles or result.skipped, "every input is either read or listed as skipped"
    assert all(s.reason for s in result.skipped)
    assert all(a.text.strip() for a in result.articles)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


OUR_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "b", "ul", "li", "code", "div"}
OUR_TAGS |= {"span", "table", "tr", "th", "td", "section", "a", "bdi", "nav", "mark"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT.filter(lambda t: t.strip()), TEXT, st.one_of(st.none(), TEXT), st.one_of(st.none(), TEXT))
def test_any_text_round_trips_through_json_and_is_only_text_in_html(
    title: str, body: str, source: str | None, url: str | None
) -> None:
    shared = "نص مشترك بين الخبرين يتكرر كما هو في المقالين لغرض الاختبار فقط وليس لغيره"
    articles = [
        Article(id=f"x{title[:10]}", title=title, text=f"{shared}\n{body}", source=source, url=url),
        Article(id="plain", title="خبر", text=f"{shared}\nنهاية"),
    ]
    report = analyse(articles).report
    assert report is not None
    assert json.loads(to_json(report)) == json.loads(json.dumps(report))
    titles = {a["id"]: a["title"] for a in json.loads(to_json(report))["articles"]}
    assert titles[articles[0].id] == title
    shown = []
    for relative, page in site_pages(report):
        parser = _Tags()
        parser.feed(page)
        assert parser.tags <= OUR_TAGS, f"input text became markup in {relative}: {parser.tags - OUR_TAGS}"
        shown.append("".join(parser.text))
    if title.strip() == title and "\n" not in title:  # on the pair's page, whole
        assert any(title in text for text in shown)
    to_markdown(report)  # never raises


_END = re.compile(r"[.!?\u061f\u2026\u06d4]+[\"'\u201d\u201c\u00bb)\]]*$")


def _windows_token_by_token(text: str, settings: WindowSettings) -> list[tuple[int, int]]:
    """The windowing rule written plainly: every token tested on its own, every start scanned."""
    tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    if len(tokens) <= settings.max_words:
        return [(0, len(text))]
    starts = {0} | {i + 1 for i, (s, e) in enumerate(tokens[:-1]) if _END.search(text[s:e])}
    spans, first = [], 0
    while True:
        near = [s for s in starts if abs(s - first) <= settings.snap_words]
        snapped = min(near, key=lambda s: (abs(s - first), s)) if near else first
        last = min(snapped + settings.window_words, len(tokens)) - 1
        if len(tokens) - 1 - last < settings.stride_words // 2:
            last = len(tokens) - 1
        spans.append((tokens[snapped][0], tokens[last][1]))
        if last == len(tokens) - 1:
            return spans
        first = snapped + settings.stride_words


WORDS = st.lists(
    st.sampled_from(["قال", "الوزير", "اليوم.", "«نعم».", "هل؟", "word", "end!", "x...", "(a)", "b.)", "؟", "۔"]),
    min_size=0,
    max_size=160,
)


@FEW
@given(WORDS, st.sampled_from(["  ", " ", "\t"]))
def test_windows_start_at_the_nearest_sentence_start_as_the_plain_rule_says(words: list[str], space: str) -> None:
    text = space.join(words)
    settings = WindowSettings(max_words=30, window_words=20, stride_words=8, snap_words=3)
    assert window_spans(text, 0, len(text), settings) == _windows_token_by_token(text, settings)


def _merged_by_comparing_all(matches: list[PassageMatch]) -> list[PassageMatch]:
    """The plain rule of `_merge_overlapping`: each match joins the first merged one it overlaps on both sides."""
    merged: list[PassageMatch] = []
    for match in sorted(matches, key=lambda m: (m.start_a, m.start_b)):
        for index, kept in enumerate(merged):
            if (
                match.start_a < kept.end_a
                and kept.start_a < match.end_a
                and match.start_b < kept.end_b
                and kept.start_b < match.end_b
            ):
                merged[index] = replace(
                    kept,
                    strength=max(kept.strength, match.strength),
                    start_a=min(kept.start_a, match.start_a),
                    end_a=max(kept.end_a, match.end_a),
                    start_b=min(kept.start_b, match.start_b),
                    end_b=max(kept.end_b, match.end_b),
                )
                break
        else:
            merged.append(match)
    return sorted(merged, key=lambda m: (m.start_a, m.start_b))


SPAN = st.tuples(st.integers(0, 300), st.integers(1, 80)).map(lambda s: (s[0], s[0] + s[1]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(SPAN, SPAN, st.floats(0, 50)), max_size=40))
def test_merging_overlapping_matches_finds_the_regions_that_comparing_all_pairs_finds(
    spans: list[tuple[tuple[int, int], tuple[int, int], float]],
) -> None:
    a = Passage("a", 0, 0, 0, 400, "x" * 400)
    b = Passage("b", 0, 0, 0, 400, "x" * 400)
    matches = [
        PassageMatch(a, b, 0.5, 0.5, strength, True, start_a, end_a, start_b, end_b)
        for (start_a, end_a), (start_b, end_b), strength in spans
    ]
    assert _merge_overlapping(matches) == _merged_by_comparing_all(matches)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 9), max_size=40),
    st.lists(st.integers(0, 9), max_size=40),
    st.lists(st.floats(0.01, 5.0), min_size=10, max_size=10),
    st.floats(0.3, 0.9),
)
def test_no_shared_region_or_ordered_run_weighs_more_than_the_whole_passage(
    terms_a: list[int], terms_b: list[int], weights: list[float], density: float
) -> None:
    """Verification skips the costly checks for passages lighter than their thresholds: this is why that is exact."""
    total_a = sum(map(weights.__getitem__, terms_a))
    total_b = sum(map(weights.__getitem__, terms_b))
    assert dense_region(terms_a, set(terms_b), weights, density).strength <= total_a
    ordered = ordered_region(terms_a, terms_b, weights, density)[0]
    assert ordered <= min(total_a, total_b)
    # each word of an ordered run counts once: it weighs at most the distinct words both share
    assert ordered <= sum(weights[t] for t in set(terms_a) & set(terms_b)) + 1e-9
