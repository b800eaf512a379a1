"""Text out of HTML. A whole page (a `.html` file, a fetched page) is read by trafilatura, favouring
precision: its article text, title, date and language, without menus, related links, comments or
footers. A fragment (markup inside a record's text, a feed item's summary) is all article: its block
elements become paragraphs, scripts and styles are dropped.

trafilatura replaced a hand-written page extractor: on saved Arabic and English news pages labelled
by hand (`bench/extraction.py`) both kept every article paragraph, trafilatura let 0 % of the
furniture through against 81 %.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser

from corpus.article import in_utc

_DROPPED = frozenset(
    {"script", "style", "noscript", "template", "svg", "head", "nav", "footer", "aside", "form", "iframe"}
)
_BLOCKS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section",
        "article", "header", "main", "tr", "table", "pre", "figcaption", "dd", "dt", "hr",
    }
)  # fmt: skip
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "source", "area", "base", "col", "embed"})
_WHOLE_PAGE = re.compile(r"<\s*(html|body|head)\b", re.IGNORECASE)
_HTML_LANG = re.compile(r"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_LOOKS_LIKE_HTML = re.compile(r"<\s*(p|div|br|span|script|style|html|body|a|h[1-6]|li|article)\b[^>]*>", re.IGNORECASE)


def looks_like_html(text: str) -> bool:
    """True when `text` carries HTML markup (a fragment or a page), not plain text."""
    return bool(_LOOKS_LIKE_HTML.search(text[:20_000]))


def is_whole_page(markup: str) -> bool:
    """True when `markup` is a whole page (it has `<html>`, `<head>` or `<body>`), not a fragment."""
    return bool(_WHOLE_PAGE.search(markup[:20_000]))


@dataclass(frozen=True)
class PageText:
    """What a news page says about its article."""

    title: str | None
    text: str
    """The article's paragraphs, one per line; empty when the page holds no article text."""
    published_at: datetime | None
    """In UTC, as every date the readers give."""
    published_offset: int | None
    """Minutes east of UTC the page gave its date in."""
    language: str | None
    """From the page's `<html lang>`, when it says."""


def page_text(markup: str | bytes, url: str | None = None) -> PageText:
    """The article on a whole HTML page (see the module docstring); bytes are decoded as the page says."""
    import trafilatura  # only for pages: lxml and its own models load on first use

    document = trafilatura.bare_extraction(
        markup,
        url=url,
        with_metadata=True,
        include_comments=False,
        favor_precision=True,
        date_extraction_params={"original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"},
    )
    text = getattr(document, "text", None) or ""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    head = markup[:4096].decode("latin-1") if isinstance(markup, bytes) else markup[:4096]
    language = _HTML_LANG.search(head)
    title = " ".join((getattr(document, "title", None) or "").split()) or None
    published, offset = _utc(getattr(document, "date", None))
    return PageText(
        title=title,
        text="\n".join(line for line in lines if line),
        published_at=published,
        published_offset=offset,
        language=language.group(1).lower() if language else None,
    )


def _utc(value: str | None) -> tuple[datetime | None, int | None]:
    if not value:
        return None, None
    try:
        return in_utc(datetime.fromisoformat(value))
    except ValueError:
        return None, None


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.first_heading: list[str] = []
        self._dropped_depth = 0
        self._in_title = False
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _DROPPED and tag not in _VOID:
            self._dropped_depth += 1
        elif tag == "h1" and not self.first_heading:
            self._in_h1 = True
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _DROPPED and self._dropped_depth:
            self._dropped_depth -= 1
        elif tag == "h1":
            self._in_h1 = False
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._dropped_depth:
            self.parts.append(data)
            if self._in_h1:
                self.first_heading.append(data)


def html_to_text(markup: str) -> tuple[str | None, str]:
    """(title, text) of an HTML fragment, all of it article; paragraphs are separated by newlines.

    The title is the `<title>`, else the first `<h1>`; scripts, styles, navigation, forms,
    asides and footers are left out.
    """
    parser = _Extractor()
    parser.feed(markup)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(line for line in lines if line)
    title = " ".join("".join(parser.title).split()) or " ".join("".join(parser.first_heading).split())
    return (title or None), text
