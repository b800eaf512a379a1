"""Titles without what their source repeats: section names and site names.

A source's titles often carry the same section or site name («محلي | …», «… - المغرب اليوم»), and a
plain-text file's first line is sometimes the section alone. Among the articles of one source (its
`source`, else the folder its file is in) read together:

1. a title part before or after a separator (` - `, ` | `, ` – `, ` — `, ` :: `, ` • `) that at least
   `min_articles` titles and `min_share` of the source's titles repeat is dropped;
2. a whole title that many titles repeat is no title: the text's next line takes its place;
3. so is a title that rule 1 left with fewer than `min_words` words: the text's next line, when it has
   one (a title short by itself, or in a script without spaces, stays);
4. a source with fewer than `min_articles` articles keeps its titles as they are.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from corpus.article import Article

_SEPARATOR = re.compile(r"\s+(?:-|\||–|—|::|•)\s+")


@dataclass(frozen=True)
class TitlePolicy:
    """When a repeated part counts as the source's furniture."""

    min_articles: int = 3
    min_share: float = 0.3
    min_words: int = 2


def clean_titles(articles: Sequence[Article], policy: TitlePolicy | None = None) -> list[Article]:
    """`articles` with the repeated parts of each source's titles dropped (see the module docstring)."""
    policy = policy or TitlePolicy()
    groups: dict[str, list[int]] = defaultdict(list)
    for index, article in enumerate(articles):
        groups[_source_of(article)].append(index)
    cleaned = list(articles)
    for members in groups.values():
        if len(members) < policy.min_articles:
            continue
        titles = [articles[i].title for i in members]
        needed = max(policy.min_articles, policy.min_share * len(titles))
        wholes = {t for t, n in Counter(titles).items() if n >= needed}
        parts = [_SEPARATOR.split(t) for t in titles]
        firsts = {p for p, n in Counter(p[0] for p in parts if len(p) > 1).items() if n >= needed}
        lasts = {p for p, n in Counter(p[-1] for p in parts if len(p) > 1).items() if n >= needed}
        for index, pieces in zip(members, parts, strict=True):
            article = articles[index]
            title = _without(article.title, pieces, firsts, lasts)
            if article.title in wholes or (title != article.title and len(title.split()) < policy.min_words):
                title = _next_line(article) or title
            if title != article.title:
                cleaned[index] = replace(article, title=title)
    return cleaned


def _source_of(article: Article) -> str:
    if article.source:
        return f"source:{article.source}"
    origin = article.origin.rsplit(":", 1)[0] if article.origin else ""
    return f"folder:{Path(origin).parent}" if origin else "unknown"


def _without(title: str, pieces: list[str], firsts: set[str], lasts: set[str]) -> str:
    """`title` without its first part when it is in `firsts` and its last when in `lasts`, cut where the
    separators stand so that the rest keeps its own wording."""
    separators = list(_SEPARATOR.finditer(title))
    if not separators:
        return title
    start, end = 0, len(title)
    if pieces[0] in firsts:
        start = separators[0].end()
    if pieces[-1] in lasts and (len(separators) > 1 or start == 0):
        end = separators[-1].start()
    return title[start:end].strip() or title


def _next_line(article: Article) -> str | None:
    """The first non-blank line of the text after the one the title was taken from."""
    lines = [line.strip() for line in article.text.splitlines() if line.strip()]
    for number, line in enumerate(lines[:-1]):
        if line == article.title or article.title in line:
            return lines[number + 1][:300]
    return None
