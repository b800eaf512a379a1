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
from corpus.quotes import find_quotes, named_speaker
from corpus.segment import WindowSettings, paragraph_spans, window_spans
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
    texts = tokenise([article.text for article, *_ in jobs])
    titles = tokenise([article.title for article, *_ in jobs])
    _TOKENISED[0] += len(jobs)
    table = TermTable.merged([TermTable.of(texts), TermTable.of(titles)])
    story_hashes = term_hashes(table.stem_strings())  # each distinct stem of the chunk hashed once
    found: list[Any] = []
    for index, (article, spans, keys, repeated, settings, then) in enumerate(jobs):
        prepared = _prepare(article, spans, repeated, settings, texts[index])
        prepared.title_tokens = titles[index]
        prepared.label_terms = _label_terms(prepared, texts, titles, index, table, story_hashes)
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


LABEL_STEM = 3
"""Label terms are the content terms whose stem has at least this many letters."""


def _label_terms(
    prepared: PreparedArticle, texts: Tokenised, titles: Tokenised, index: int, table: TermTable, hashes: np.ndarray
) -> LabelTerms:
    """The title's and the reporting paragraphs' terms with stems of `LABEL_STEM` letters or more (`hashes`: the
    `term_hashes` of the stems of `table`, row by row)."""
    assert prepared.tokens is not None and prepared.title_tokens is not None
    title_first, body_first = int(titles.firsts[index]), int(texts.firsts[index])
    title = np.flatnonzero(prepared.title_tokens.stem_lengths >= LABEL_STEM) + title_first
    reporting = np.zeros(len(prepared.tokens), dtype=bool)
    for paragraph in prepared.paragraphs:
        if paragraph.boilerplate is None:
            first = np.searchsorted(prepared.tokens.starts, paragraph.start)
            reporting[first : np.searchsorted(prepared.tokens.ends, paragraph.end, side="right")] = True
    body = np.flatnonzero(reporting & (prepared.tokens.stem_lengths >= LABEL_STEM)) + body_first
    ids = np.concatenate([titles.ids[title], texts.ids[body]])
    return LabelTerms(joined_stems(titles, title), joined_stems(texts, body), hashes[table.rows(ids)])


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
        [
            Paragraph(index, start, end, text[start:end], reason)
            for index, (start, end, reason) in enumerate(paragraphs)
        ],
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


def _prepare(
    article: Article, spans: list[tuple[int, int]], repeated: list[bool], settings: PrepareSettings, terms: Tokens
) -> PreparedArticle:
    text = article.text
    paragraphs: list[Paragraph] = []
    passages: list[Passage] = []
    quotes: list[Quote] = []
    previous_speaker: Callable[[], str | None] = _nobody
    for index, (start, end) in enumerate(spans):
        line = text[start:end]
        reason = furniture_reason(line)
        if reason is None and repeated[index]:
            reason = "repeated by its source across articles"
        paragraphs.append(Paragraph(index, start, end, line, reason))
        if reason is not None:
            continue
        for w_start, w_end in window_spans(text, start, end, settings.windows):
            inside = np.searchsorted(terms.ends, w_end, side="right") - np.searchsorted(terms.starts, w_start)
            if inside < settings.min_passage_terms:
                continue
            passages.append(Passage(article.id, len(passages), index, w_start, w_end, text))
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
