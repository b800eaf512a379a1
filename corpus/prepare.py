"""Preparing articles for comparison: paragraphs, furniture, passages and quotes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from corpus.article import Article, Paragraph, Passage, PreparedArticle, Quote
from corpus.boilerplate import RepeatedLines, furniture_reason
from corpus.quotes import find_quotes, named_speaker
from corpus.segment import WindowSettings, paragraph_spans, window_spans
from corpus.text import content_terms, fold

MIN_PASSAGE_TERMS = 6
"""Passages with fewer content words than this are never compared: too short to be evidence."""


@dataclass(frozen=True)
class PrepareSettings:
    """Settings of the preparation stage."""

    windows: WindowSettings = field(default_factory=WindowSettings)
    min_passage_terms: int = MIN_PASSAGE_TERMS


def prepare_articles(
    articles: Sequence[Article],
    settings: PrepareSettings | None = None,
    repeated: RepeatedLines | None = None,
) -> list[PreparedArticle]:
    """Split each article into paragraphs, mark furniture, and cut passages and quotes.

    `repeated` holds per-source line counts from earlier runs; the lines of `articles` are
    added to it, so furniture that a source repeats is recognised within one batch too.
    """
    settings = settings or PrepareSettings()
    spans_by_article = [paragraph_spans(a.text) for a in articles]
    repeated = repeated if repeated is not None else RepeatedLines()
    for article, spans in zip(articles, spans_by_article, strict=True):
        repeated.add(article.source, [article.text[s:e] for s, e in spans])
    return [
        prepare_article(article, spans, settings, repeated)
        for article, spans in zip(articles, spans_by_article, strict=True)
    ]


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
    text = article.text
    spans = paragraph_spans(text) if spans is None else spans
    paragraphs: list[Paragraph] = []
    passages: list[Passage] = []
    quotes: list[Quote] = []
    previous_speaker: Callable[[], str | None] = _nobody
    for index, (start, end) in enumerate(spans):
        line = text[start:end]
        reason = furniture_reason(line)
        if reason is None and repeated is not None and repeated.is_repeated(article.source, line):
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
