"""Articles from RSS/Atom feeds (feedparser), feed URLs and article URLs (pages read with trafilatura).

A feed item's linked page is fetched and its text, title, date and language extracted; when the page
cannot be fetched or holds no article text, the item's own summary is read instead, with a note.
"""

from __future__ import annotations

import logging
from calendar import timegm
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from corpus.article import Article, SkippedInput, in_utc
from corpus.html import html_to_text, page_text
from corpus.readers import NOT_FETCHED, InputError, make_article
from corpus.web import Fetcher, FetchError, Page

log = logging.getLogger(__name__)

_FEED_TYPES = ("rss", "atom", "xml")


FETCHERS = 8
"""Pages of one feed fetched at once (from different hosts; one host is asked in turn)."""


class FeedArticles:
    """Reads feeds and fetches URLs for `corpus.readers.read_articles`; without a fetcher, feeds give their
    items' summaries and URLs are skipped."""

    def __init__(self, fetcher: Fetcher | None = None) -> None:
        self.fetcher = fetcher

    def __call__(self, data: bytes, origin: str) -> Iterator[Article | SkippedInput]:
        """The articles of a feed's bytes read from `origin`, or, when `data` is empty, of the URL `origin`."""
        if data:
            yield from self._feed(data, origin)
            return
        if self.fetcher is None:
            yield SkippedInput(origin, NOT_FETCHED)
            return
        try:
            page = self.fetcher.get(origin)
        except FetchError as error:
            yield SkippedInput(origin, str(error).removeprefix(f"{origin}: "))
            return
        if _is_feed(page):
            yield from self._feed(page.body, origin)
            return
        article = page_article(page, origin)
        yield article if isinstance(article, Article) else SkippedInput(origin, article)

    def _feed(self, data: bytes, origin: str) -> Iterator[Article | SkippedInput]:
        import feedparser  # only for feeds

        parsed = feedparser.parse(data)
        if not parsed.entries:
            problem = f" ({parsed.bozo_exception})" if parsed.get("bozo") else ""
            reason = "a feed without items" if parsed.get("version") else f"not an RSS or Atom feed{problem}"
            yield SkippedInput(origin, reason)
            return
        items = [(entry, f"{origin}[{number}]") for number, entry in enumerate(parsed.entries)]
        if self.fetcher is None:
            yield from (self._entry(entry, where) for entry, where in items)
            return
        # each host is asked in turn (the fetcher spaces its requests); different hosts at once
        with ThreadPoolExecutor(max_workers=FETCHERS) as fetchers:
            yield from fetchers.map(lambda item: self._entry(*item), items)

    def _entry(self, entry: Any, where: str) -> Article | SkippedInput:
        try:
            return self._entry_article(entry, where)
        except InputError as error:
            return SkippedInput(where, str(error))

    def _entry_article(self, entry: Any, where: str) -> Article | SkippedInput:
        link = str(entry.get("link") or "").strip() or None
        article_id = link or str(entry.get("id") or "").strip()
        if not article_id:
            return SkippedInput(where, "feed item without a link or an id")
        published, offset = _entry_date(entry)
        title = " ".join(str(entry.get("title") or "").split()) or None
        summary = _summary(entry)
        reason = "no fetcher"
        if link is not None and self.fetcher is not None:
            try:
                page = self.fetcher.get(link)
            except FetchError as error:
                reason = str(error).removeprefix(f"{link}: ")
            else:
                article = page_article(page, link, article_id=article_id, title=title, published=(published, offset))
                if isinstance(article, Article):
                    return article
                reason = article
            if summary:
                log.warning("%s: the page was not read (%s); read the feed's summary instead", link, reason)
        if not summary:
            return SkippedInput(link or where, f"no text: the item has no summary and its page was not read ({reason})")
        return make_article(
            id=article_id,
            title=title,
            text=summary,
            published_at=published,
            published_offset=offset,
            source=_host(link) if link else None,
            url=link,
            language=_language(entry.get("language")),
            origin=where,
        )


def page_article(
    page: Page,
    origin: str,
    *,
    article_id: str | None = None,
    title: str | None = None,
    published: tuple[datetime | None, int | None] = (None, None),
) -> Article | str:
    """The article on an HTML page (`corpus.html.page_text`), or the reason there is none; `title` and
    `published` (UTC date and offset, from a feed) stand in for what the page does not say."""
    head = page.body.lstrip()[:200].lower()
    if "html" not in page.content_type.lower() and not head.startswith((b"<!doc", b"<htm")):
        return f"not an HTML page (content type '{page.content_type or 'none'}')"
    found = page_text(page.body, page.url)
    if not found.text:
        return "no article text found on the page"
    try:
        return make_article(
            id=article_id or origin,
            title=(title or found.title or "")[:300] or None,
            text=found.text,
            published_at=found.published_at or published[0],
            published_offset=found.published_offset if found.published_at else published[1],
            source=_host(page.url),
            url=page.url,
            language=found.language,
            origin=origin,
        )
    except InputError as error:
        return str(error)


def _is_feed(page: Page) -> bool:
    kind = page.content_type.lower()
    if any(name in kind for name in _FEED_TYPES):
        return True
    head = page.body.lstrip()[:500].lower()
    return head.startswith(b"<?xml") or b"<rss" in head or b"<feed" in head


def _summary(entry: Any) -> str:
    contents = entry.get("content") or []
    markup = contents[0].get("value", "") if contents else str(entry.get("summary") or "")
    return html_to_text(markup)[1] if markup else ""


def _entry_date(entry: Any) -> tuple[datetime | None, int | None]:
    """(UTC date, minutes east of UTC it was written in) of a feed item: its own text when it parses (RFC 822
    or ISO 8601), else feedparser's parsed date (UTC, zone unknown)."""
    raw = str(entry.get("published") or entry.get("updated") or "").strip()
    try:
        return in_utc(parsedate_to_datetime(raw))
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return in_utc(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except ValueError:
        pass
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed is None:
        return None, None
    return datetime.fromtimestamp(timegm(parsed), UTC).replace(tzinfo=None), None


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def _language(value: Any) -> str | None:
    return str(value or "").strip().lower().split("-")[0] or None
