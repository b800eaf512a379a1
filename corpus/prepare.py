"""Preparing articles for comparison: paragraphs, furniture, passages and quotes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from corpus.article import Article, Paragraph, Passage, PreparedArticle, Quote
from corpus.boilerplate import RepeatedLines, furniture_reason
from corpus.quotes import find_quotes, named_speaker
from corpus.segment import WindowSettings, paragraph_spans, window_spans
from corpus.text import content_terms, fold
from executor import Executor, map_items

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
    found = map_items(executor, prepare_jobs, jobs, CHUNK)
    # workers send back offsets, not objects: rebuilding them here is cheaper than unpickling them
    return [
        _unpack(article, packed) if then is None else (_unpack(article, packed[0]), *packed[1:])
        for article, packed in zip(articles, found, strict=True)
    ]


def paragraph_keys(articles: Sequence[Article]) -> list[tuple[list[tuple[int, int]], list[str | None]]]:
    """Each article's paragraph spans, and each paragraph's repeated-line key (see `RepeatedLines.key_of`)."""
    found = []
    for article in articles:
        spans = paragraph_spans(article.text)
        found.append((spans, [RepeatedLines.key_of(article.text[s:e]) for s, e in spans]))
    return found


PrepareJob = tuple[Article, list[tuple[int, int]], list[str | None], list[bool], PrepareSettings, Any]
"""An article, its paragraph spans, their repeated-line keys and repeated flags, the settings, and `then`."""


def prepare_jobs(jobs: Sequence[PrepareJob]) -> list[Any]:
    """Prepare each job (see `PrepareJob`); a worker's step."""
    found: list[Any] = []
    for article, spans, keys, repeated, settings, then in jobs:
        prepared = _prepare(article, spans, repeated, settings)
        if then is None:
            found.append(_pack(prepared))
            continue
        derived = then(prepared, keys)
        found.append((_pack(derived[0]), *derived[1:]) if isinstance(derived, tuple) else (_pack(prepared), derived))
    return found


Packed = tuple[
    list[tuple[int, int, str | None]], list[tuple[int, int, int]], list[tuple[int, int, int, str, str | None]]
]


def _pack(prepared: PreparedArticle) -> Packed:
    """A prepared article as offsets and strings only (its article is known to the receiver)."""
    return (
        [(p.start, p.end, p.boilerplate) for p in prepared.paragraphs],
        [(p.paragraph, p.start, p.end) for p in prepared.passages],
        [(q.paragraph, q.start, q.end, q.folded, q.speaker) for q in prepared.quotes],
    )


def _unpack(article: Article, packed: Packed) -> PreparedArticle:
    paragraphs, passages, quotes = packed
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
    )


PREPARATION_VERSION = 2
"""Part of every kept preparation's key: raised when a change to preparing gives other paragraphs, passages or
quotes, so that preparations kept by an earlier version are not taken for this one's."""


def preparation_key(settings: PrepareSettings) -> str:
    """What a kept preparation must have been made with to stand for preparing now: this version, these settings."""
    digest = hashlib.sha1(repr(settings).encode("utf-8")).hexdigest()[:12]
    return f"prepare-v{PREPARATION_VERSION}-{digest}"


def packed_preparation(prepared: PreparedArticle, settings: PrepareSettings) -> str:
    """`prepared` as a short JSON text of offsets, furniture reasons and quotes (with its key, see
    `preparation_key`), to keep beside its article: `unpacked_preparation` rebuilds it without preparing again."""
    return json.dumps([preparation_key(settings), *_pack(prepared)], ensure_ascii=False, separators=(",", ":"))


def unpacked_preparation(article: Article, packed: str, settings: PrepareSettings) -> PreparedArticle | None:
    """The prepared `article` that `packed_preparation` kept; None if it was kept with another key or is not one."""
    try:
        key, paragraphs, passages, quotes = json.loads(packed)
    except (TypeError, ValueError):
        return None
    if key != preparation_key(settings) or any(end > len(article.text) for _, end, _ in paragraphs):
        return None
    return _unpack(article, (paragraphs, passages, quotes))


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
    return _prepare(article, spans, flags, settings)


def _prepare(
    article: Article, spans: list[tuple[int, int]], repeated: list[bool], settings: PrepareSettings
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
            # a window of many words surely has enough content words: skip the costly count
            long_enough = text.count(" ", w_start, w_end) >= 4 * settings.min_passage_terms
            if not long_enough and len(content_terms(fold(text[w_start:w_end]))) < settings.min_passage_terms:
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
    return PreparedArticle(article, paragraphs, passages, quotes)
