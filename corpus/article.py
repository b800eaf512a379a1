"""The record types that travel through every stage of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from corpus.text import fold

if TYPE_CHECKING:
    from corpus.tokens import Tokens


@dataclass(frozen=True)
class Article:
    """One news article as read from its input; the text is kept exactly as published."""

    id: str
    title: str
    text: str
    published_at: datetime | None = None
    source: str | None = None
    url: str | None = None
    language: str | None = None
    origin: str = ""
    """Where the article was read from (file, and line for JSON Lines), for messages."""
    encoding: str | None = None
    """The character encoding its file was read in (e.g. utf-8, cp1256), when read from a file."""
    published_offset: int | None = None
    """Minutes east of UTC of the time zone the input gave `published_at` in (which is always UTC)."""


def in_utc(moment: datetime) -> tuple[datetime, int | None]:
    """(the moment in UTC, without zone; minutes east of UTC it was given in, None when it had no zone).

    One convention for every input, so dates from different sources compare; the offset lets reports
    show each date as its source wrote it."""
    offset = moment.utcoffset()
    if offset is None:
        return moment, None
    return moment.astimezone(UTC).replace(tzinfo=None), round(offset.total_seconds() / 60)


@dataclass(frozen=True)
class SkippedInput:
    """An input that could not be turned into an article, and why."""

    input: str
    reason: str


@dataclass
class ReadResult:
    """Articles read from one or more inputs, plus the inputs that were skipped."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[SkippedInput] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Passage:
    """A span of an article's text that is compared on its own: a paragraph or a window of one.

    `start`/`end` are offsets into `Article.text`, so reports can always show the original
    wording. The passage keeps a reference to its article's text, not a copy: a run holds
    millions of overlapping windows.
    """

    article_id: str
    index: int
    paragraph: int
    start: int
    end: int
    article_text: str = field(repr=False, compare=False)

    @property
    def text(self) -> str:
        """The passage's original wording."""
        return self.article_text[self.start : self.end]

    @property
    def folded(self) -> str:
        """The matching form of the passage (see `corpus.text.fold`)."""
        return fold(self.text)


@dataclass(frozen=True, slots=True)
class Quote:
    """A quoted statement inside an article, with its speaker when the text names one."""

    article_id: str
    paragraph: int
    start: int
    end: int
    text: str
    folded: str
    speaker: str | None


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One paragraph of an article with its offsets and, if it is site furniture, the reason. Like a passage it
    keeps a reference to its article's text, not a copy of its own."""

    index: int
    start: int
    end: int
    article_text: str = field(repr=False, compare=False)
    boilerplate: str | None = None

    @property
    def text(self) -> str:
        """The paragraph's original wording."""
        return self.article_text[self.start : self.end]


@dataclass(frozen=True)
class LabelTerms:
    """Content terms (over two letters) of an article's title and of its reporting paragraphs, in order.

    Terms are space-separated (one string is far cheaper to send from a worker than a list);
    `hashes` are their 64-bit term ids (`corpus.tokens`), the title's first.
    """

    title: str
    body: str
    hashes: np.ndarray

    def terms(self) -> list[str]:
        """The title's terms, then the body's."""
        return self.title.split() + self.body.split()

    @property
    def title_hashes(self) -> np.ndarray:
        """The hashes of the title's terms."""
        return self.hashes[: len(self.title.split())]


@dataclass
class PreparedArticle:
    """An article with its paragraphs, comparable passages and quotes."""

    article: Article
    paragraphs: list[Paragraph]
    passages: list[Passage]
    quotes: list[Quote]
    label_terms: LabelTerms | None = field(default=None, compare=False, repr=False)
    """The terms the thread stage uses, as the night's preparation found them; None for articles prepared otherwise."""
    tokens: Tokens | None = field(default=None, compare=False, repr=False)
    """The content terms of the article's text (`corpus.tokens`), found once when it was first prepared."""
    title_tokens: Tokens | None = field(default=None, compare=False, repr=False)
    """The content terms of its title."""

    def reporting_tokens(self) -> Tokens:
        """The content terms of the paragraphs that are reporting, not furniture, in order."""
        assert self.tokens is not None, "tokens are found when an article is prepared"
        keep = np.zeros(len(self.tokens), dtype=bool)
        for paragraph in self.paragraphs:
            if paragraph.boilerplate is None:
                first = np.searchsorted(self.tokens.starts, paragraph.start)
                keep[first : np.searchsorted(self.tokens.ends, paragraph.end, side="right")] = True
        return self.tokens[keep]

    @property
    def content_chars(self) -> int:
        """Characters of the paragraphs that are reporting rather than site furniture."""
        return sum(len(p.text) for p in self.paragraphs if p.boilerplate is None)
