"""Text out of HTML: block elements become paragraphs; scripts, styles and page chrome are dropped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

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
_LOOKS_LIKE_HTML = re.compile(r"<\s*(p|div|br|span|script|style|html|body|a|h[1-6]|li|article)\b[^>]*>", re.IGNORECASE)


def looks_like_html(text: str) -> bool:
    """True when `text` carries HTML markup (a fragment or a page), not plain text."""
    return bool(_LOOKS_LIKE_HTML.search(text[:20_000]))


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
    """(title, text) of an HTML page or fragment; paragraphs are separated by newlines.

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
