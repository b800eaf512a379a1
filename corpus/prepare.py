"""Preparing articles for comparison: paragraphs, furniture, passages and quotes."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from corpus.article import Article, LabelTerms, Paragraph, Passage, PreparedArticle, Quote
from corpus.boilerplate import RepeatedLines, furniture_reason
from corpus.layout import chunk_windows
from corpus.quotes import find_quotes, named_speaker
from corpus.segment import WindowSettings, paragraph_spans
from corpus.text import fold
from corpus.tokens import TermTable, Tokenised, Tokens, joined_stems, pack, term_hashes, tokenise, unpack
from executor import Executor, map_chunks, map_items

MIN_PASSAGE_TERMS = 6
"""Passages with fewer content words than this are never compared: too short to be evidence."""


@dataclass(frozen=True)
class PrepareSettings:
    """Settings of the preparation stage."""

    windows: WindowSettings = field(default_factory=WindowSettings)
    min_passage_terms: int = MIN_PASSAGE_TERMS


CHUNK = 100
"""Articles per chunk of work sent to a worker process."""

T = TypeVar("T")


def prepare_articles(
    articles: Sequence[Article],
    settings: PrepareSettings | None = None,
    repeated: RepeatedLines | None = None,
    executor: Executor | None = None,
) -> list[PreparedArticle]:
    """Split each article into paragraphs, mark furniture, and cut passages and quotes.

    `repeated` holds per-source line counts from earlier runs; the lines of `articles` are
    added to it, so furniture that a source repeats is recognised within one batch too.
    With an `executor`, chunks of articles are prepared on its workers; the articles are the same.
    """
    return prepare_articles_then(articles, None, settings, repeated, executor)


def prepare_articles_then(
    articles: Sequence[Article],
    then: Callable[[PreparedArticle, list[str | None]], T] | None,
    settings: PrepareSettings | None = None,
    repeated: RepeatedLines | None = None,
    executor: Executor | None = None,
    count_lines: bool = True,
) -> list[Any]:
    """`prepare_articles`, with `then` (a module-level function) applied in the worker to each prepared
    article and its paragraphs' repeated-line keys (`RepeatedLines.key_of`).

    Lets a caller derive what it needs from each prepared article where it was prepared.
    Without `count_lines`, the articles' lines are not added to `repeated` (they are in it already).
    """
    return prepare_with_terms(articles, then, settings, repeated, executor, count_lines)[0]


def prepare_with_terms(
    articles: Sequence[Article],
    then: Callable[[PreparedArticle, list[str | None]], T] | None,
    settings: PrepareSettings | None = None,
    repeated: RepeatedLines | None = None,
    executor: Executor | None = None,
    count_lines: bool = True,
) -> tuple[list[Any], TermTable]:
    """`prepare_articles_then`, and the stems of every term of the articles' titles and texts (`TermTable`): what
    an n-gram encoder needs to encode their passages from their terms."""
    settings = settings or PrepareSettings()
    repeated = repeated if repeated is not None else RepeatedLines()
    split = map_items(executor, paragraph_keys, articles, CHUNK)
    if count_lines:
        for article, (_, keys) in zip(articles, split, strict=True):
            repeated.add_keys(article.source, keys)
    jobs = [
        (article, spans, keys, [repeated.is_repeated_key(article.source, key) for key in keys], settings, then)
        for article, (spans, keys) in zip(articles, split, strict=True)
    ]
    chunks = map_chunks(executor, prepare_jobs, jobs, CHUNK)
    found = [packed for packs, _ in chunks for packed in packs]
    # workers send back offsets, not objects: rebuilding them here is cheaper than unpickling them
    prepared = [
        _unpack(article, packed) if then is None else (_unpack(article, packed[0]), *packed[1:])
        for article, packed in zip(articles, found, strict=True)
    ]
    return prepared, TermTable.merged([table for _, table in chunks])


def paragraph_keys(articles: Sequence[Article]) -> list[tuple[list[tuple[int, int]], list[str | None]]]:
    """Each article's paragraph spans, and each paragraph's repeated-line key (see `RepeatedLines.key_of`)."""
    found = []
    for article in articles:
        spans = paragraph_spans(article.text)
        found.append((spans, [RepeatedLines.key_of(article.text[s:e]) for s, e in spans]))
    return found


PrepareJob = tuple[Article, list[tuple[int, int]], list[str | None], list[bool], PrepareSettings, Any]
"""An article, its paragraph spans, their repeated-line keys and repeated flags, the settings, and `then`."""


def prepare_jobs(jobs: Sequence[PrepareJob]) -> tuple[list[Any], TermTable]:
    """Prepare each job (see `PrepareJob`); a worker's step. The chunk's texts and titles are tokenised in one
    compiled pass each (`corpus.tokens`); the stems of their terms come back once, in a table."""
    bodies = [article.text for article, *_ in jobs]
    texts = tokenise(bodies)
    titles = tokenise([article.title for article, *_ in jobs])
    _TOKENISED[0] += len(jobs)
    table = TermTable.merged([TermTable.of(texts), TermTable.of(titles)])
    story_hashes = term_hashes(table.stem_strings())  # each distinct stem of the chunk hashed once
    windows = _chunk_windows(bodies, [spans for _, spans, *_ in jobs], texts, jobs[0][4] if jobs else None)
    found: list[Any] = []
    chunk = []
    for index, (article, spans, _, repeated, settings, _) in enumerate(jobs):
        prepared = _prepare(article, spans, repeated, settings, texts[index], windows[index])
        prepared.title_tokens = titles[index]
        chunk.append(prepared)
    for prepared, terms in zip(chunk, _chunk_label_terms(chunk, texts, titles, table, story_hashes), strict=True):
        prepared.label_terms = terms
    for prepared, (_, _, keys, _, _, then) in zip(chunk, jobs, strict=True):
        if then is None:
            found.append(_pack(prepared))
            continue
        derived = then(prepared, keys)
        found.append((_pack(derived[0]), *derived[1:]) if isinstance(derived, tuple) else (_pack(prepared), derived))
    return found, table


_TOKENISED = [0]


def articles_tokenised() -> int:
    """How many articles this process has prepared, and so tokenised, so far (each article once, ever)."""
    return _TOKENISED[0]


def _chunk_windows(
    bodies: list[str], spans: list[list[tuple[int, int]]], texts: Tokenised, settings: PrepareSettings | None
) -> list[Windows]:
    """Each article's `Windows` (`corpus.layout`), found for the whole chunk in one compiled pass."""
    if settings is None:
        return []
    found = chunk_windows(bodies, spans, texts.starts, texts.ends, texts.firsts, settings.windows)
    starts, ends, inside, firsts, junk = (array.tolist() for array in found)
    result: list[Windows] = []
    paragraph = 0
    for article_spans in spans:
        count = len(article_spans)
        # each article's windows keep their numbers; its paragraphs' first windows are its own slice of `firsts`
        own = slice(paragraph, paragraph + count)
        result.append((starts, ends, inside, firsts[paragraph : paragraph + count + 1], junk[own]))
        paragraph += count
    return result


LABEL_STEM = 3
"""Label terms are the content terms whose stem has at least this many letters."""


def _chunk_label_terms(
    chunk: list[PreparedArticle], texts: Tokenised, titles: Tokenised, table: TermTable, hashes: np.ndarray
) -> list[LabelTerms]:
    """Each article's label terms: its title's and its reporting paragraphs' terms with stems of `LABEL_STEM` letters
    or more (`hashes`: the `term_hashes` of `table`'s stems, row by row), for the whole chunk in a few array steps."""
    # the terms inside reporting paragraphs: +1 where such a paragraph's terms begin, -1 after they end
    edges = np.zeros(len(texts.ids) + 1, dtype=np.int64)
    for index, prepared in enumerate(chunk):
        reporting = [(p.start, p.end) for p in prepared.paragraphs if p.boilerplate is None]
        if not reporting:
            continue
        spans = np.array(reporting, dtype=np.int64)
        first, last = int(texts.firsts[index]), int(texts.firsts[index + 1])
        np.add.at(edges, first + np.searchsorted(texts.starts[first:last], spans[:, 0]), 1)
        np.add.at(edges, first + np.searchsorted(texts.ends[first:last], spans[:, 1], side="right"), -1)
    body = (np.cumsum(edges[:-1]) > 0) & (texts.stem_lengths >= LABEL_STEM)
    title = titles.stem_lengths >= LABEL_STEM
    title_strings = _joined_per_text(titles, title)
    body_strings = _joined_per_text(texts, body)
    title_hashes, body_hashes = hashes[table.rows(titles.ids[title])], hashes[table.rows(texts.ids[body])]
    title_bounds, body_bounds = _kept_bounds(titles, title), _kept_bounds(texts, body)
    found = []
    for index in range(len(chunk)):
        article_hashes = np.concatenate(
            [
                title_hashes[title_bounds[index] : title_bounds[index + 1]],
                body_hashes[body_bounds[index] : body_bounds[index + 1]],
            ]
        )
        found.append(LabelTerms(title_strings[index], body_strings[index], article_hashes))
    return found


def _kept_bounds(found: Tokenised, keep: np.ndarray) -> list[int]:
    """Where each text's terms that `keep` marks begin among all the marked ones (one more than texts)."""
    owner = np.searchsorted(found.firsts, np.flatnonzero(keep), side="right") - 1
    return np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=len(found))))).tolist()


def _joined_per_text(found: Tokenised, keep: np.ndarray) -> list[str]:
    """For each text of `found`, the stems of its terms that `keep` marks, space-separated: slices of one string of
    all of them (no string a term)."""
    chosen = np.flatnonzero(keep)
    if not len(chosen):
        return [""] * len(found)
    joined = joined_stems(found, chosen)
    bounds = np.asarray(_kept_bounds(found, keep), dtype=np.int64)
    # where each kept term's stem begins in `joined`: one space after each stem
    begins = np.concatenate(([0], np.cumsum(found.stem_lengths[chosen].astype(np.int64) + 1)))
    starts, stops = begins[bounds[:-1]].tolist(), (begins[bounds[1:]] - 1).tolist()
    return [joined[start:stop] for start, stop in zip(starts, stops, strict=True)]


Packed = tuple[
    list[tuple[int, int, str | None]],
    list[tuple[int, int, int]],
    list[tuple[int, int, int, str, str | None]],
    Any,
]


def _pack(prepared: PreparedArticle) -> Packed:
    """A prepared article as offsets, strings and arrays only (its article is known to the receiver)."""
    return (
        [(p.start, p.end, p.boilerplate) for p in prepared.paragraphs],
        [(p.paragraph, p.start, p.end) for p in prepared.passages],
        [(q.paragraph, q.start, q.end, q.folded, q.speaker) for q in prepared.quotes],
        (prepared.tokens, prepared.title_tokens, prepared.label_terms),
    )


def _unpack(article: Article, packed: Packed) -> PreparedArticle:
    paragraphs, passages, quotes, (tokens, title_tokens, label_terms) = packed
    text = article.text
    return PreparedArticle(
        article,
        [Paragraph(index, start, end, text, reason) for index, (start, end, reason) in enumerate(paragraphs)],
        [Passage(article.id, index, *passage, text) for index, passage in enumerate(passages)],
        [
            Quote(article.id, paragraph, start, end, text[start:end], folded, speaker)
            for paragraph, start, end, folded, speaker in quotes
        ],
        label_terms=label_terms,
        tokens=tokens,
        title_tokens=title_tokens,
    )


PREPARATION_VERSION = 3
"""Part of every kept preparation's key: raised when a change to preparing gives other paragraphs, passages or
quotes, so that preparations kept by an earlier version are not taken for this one's."""


def preparation_key(settings: PrepareSettings) -> str:
    """What a kept preparation must have been made with to stand for preparing now: this version, these settings."""
    digest = hashlib.sha1(repr(settings).encode("utf-8")).hexdigest()[:12]
    return f"prepare-v{PREPARATION_VERSION}-{digest}"


def packed_preparation(prepared: PreparedArticle, settings: PrepareSettings) -> str:
    """`prepared` as a short JSON text of offsets, furniture reasons and quotes (with its key, see
    `preparation_key`), to keep beside its article: `unpacked_preparation` rebuilds it without preparing again.
    Its terms are kept apart, as bytes (`kept_tokens`)."""
    return json.dumps([preparation_key(settings), *_pack(prepared)[:3]], ensure_ascii=False, separators=(",", ":"))


def kept_tokens(prepared: PreparedArticle) -> bytes:
    """The terms of `prepared`'s title and text as bytes, to keep beside its preparation."""
    assert prepared.tokens is not None and prepared.title_tokens is not None
    title, text = pack(prepared.title_tokens), pack(prepared.tokens)
    return len(title).to_bytes(4, "little") + title + text


def unpacked_preparation(
    article: Article, packed: str, settings: PrepareSettings, tokens: bytes | None = None
) -> PreparedArticle | None:
    """The prepared `article` that `packed_preparation` (and `kept_tokens`) kept; None if it was kept with another
    key or is not one."""
    if tokens is None:
        return None
    try:
        key, paragraphs, passages, quotes = json.loads(packed)
        split = int.from_bytes(tokens[:4], "little")
        title_tokens, text_tokens = unpack(tokens[4 : 4 + split]), unpack(tokens[4 + split :])
    except (TypeError, ValueError, zlib.error):
        return None
    if key != preparation_key(settings) or any(end > len(article.text) for _, end, _ in paragraphs):
        return None
    return _unpack(article, (paragraphs, passages, quotes, (text_tokens, title_tokens, None)))


def _nobody() -> None:
    return None


def _speaker_named_in(line: str, quoted_speaker: str | None) -> Callable[[], str | None]:
    """Who `line` names as speaker, worked out only if a later quote needs it."""
    return lambda: named_speaker(line) or quoted_speaker


def prepare_article(
    article: Article,
    spans: list[tuple[int, int]] | None = None,
    settings: PrepareSettings | None = None,
    repeated: RepeatedLines | None = None,
) -> PreparedArticle:
    """Prepare one article (see `prepare_articles`)."""
    settings = settings or PrepareSettings()
    spans = paragraph_spans(article.text) if spans is None else spans
    flags = [
        repeated is not None and repeated.is_repeated(article.source, article.text[start:end]) for start, end in spans
    ]
    job: PrepareJob = (article, spans, [None] * len(spans), flags, settings, None)
    (packed,), _ = prepare_jobs([job])
    return _unpack(article, packed)


Windows = tuple[list[int], list[int], list[int], list[int], list[int]]
"""Each window's start, end and content terms, each paragraph's first window (one more than paragraphs) and each
paragraph's characters of junk tokens."""


def _prepare(
    article: Article,
    spans: list[tuple[int, int]],
    repeated: list[bool],
    settings: PrepareSettings,
    terms: Tokens,
    windows: Windows,
) -> PreparedArticle:
    text = article.text
    paragraphs: list[Paragraph] = []
    passages: list[Passage] = []
    quotes: list[Quote] = []
    previous_speaker: Callable[[], str | None] = _nobody
    starts, ends, inside, firsts, junk = windows
    for index, (start, end) in enumerate(spans):
        line = text[start:end]
        reason = furniture_reason(line, junk[index])
        if reason is None and repeated[index]:
            reason = "repeated by its source across articles"
        paragraphs.append(Paragraph(index, start, end, text, reason))
        if reason is not None:
            continue
        for window in range(firsts[index], firsts[index + 1]):
            if inside[window] >= settings.min_passage_terms:
                passages.append(Passage(article.id, len(passages), index, starts[window], ends[window], text))
        paragraph_quotes = find_quotes(line, previous_speaker)
        for span in paragraph_quotes:
            quote_text = line[span.start : span.end]
            quotes.append(
                Quote(
                    article.id,
                    index,
                    start + span.start,
                    start + span.end,
                    quote_text,
                    fold(quote_text),
                    span.speaker,
                )
            )
        quoted_speaker = paragraph_quotes[-1].speaker if paragraph_quotes else None
        previous_speaker = _speaker_named_in(line, quoted_speaker)
    return PreparedArticle(article, paragraphs, passages, quotes, tokens=terms)
