"""The HTML report as a small static site: an index of tonight's news, a page per duplicate pair (the two
texts side by side, shared words marked) and per story thread (its articles on a timeline), and lists of
all pairs and threads, linked both ways with relative links.

Every page is bounded whatever the night's size: lists are split into pages of `ROWS_PER_PAGE`, a pair
page stops adding passages at `PAGE_BUDGET` bytes and says how many more report.json holds. Every
text is escaped, links go to http(s) only, no page runs a script or loads anything (content policy),
and text in any script runs in its own direction.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache, partial
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple

from corpus.text import fold
from reports.wording import counted, shortened

INDEX = "report.html"
ROWS_PER_PAGE = 500
THREAD_ROWS = 200
"""Articles per page of a thread's timeline (each row links to up to `PAIR_LINKS` of its pairs)."""
PAIR_LINKS = 5
INDEX_ROWS = 100
PAGE_BUDGET = 700_000
"""Bytes of passages a pair page shows at most (pages stay under 1 MB)."""

KIND_WORDS = {
    "exact": "the same text",
    "near_duplicate": "nearly the same text",
    "partial_reuse": "shares paragraphs",
    "reworded": "the same reporting, reworded",
    "translated": "the same reporting, translated",
}
"""Each kind of pair as an editor would say it."""

_SAFE_URL = re.compile(r"^https?://", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)
# no scripts, no images, no fetches: even text that escaped escaping could not run or call out
CONTENT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'"
_CSS = """
body{font-family:system-ui,'Noto Naskh Arabic','Noto Sans Arabic',sans-serif;margin:2rem auto;max-width:84rem;
color:#1b1b1b;padding:0 1rem} h1{font-size:1.4rem} h2{margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%} td,th{border:1px solid #ddd;padding:.4rem;vertical-align:top}
th{background:#f4f4f4;text-align:start} .text{unicode-bidi:plaintext;text-align:start;line-height:1.8}
.muted{color:#666;font-size:.9rem} mark{background:#ffe38a;padding:0 .1rem} nav{margin-bottom:1rem}
.new{background:#e3f4e1;border-radius:4px;padding:0 .3rem;font-size:.85rem} .share{font-weight:600}
.sides{table-layout:fixed} .speaker{font-weight:600}
"""


def site_pages(report: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(relative path, HTML) of every page of the site; the index is `INDEX`."""
    for relative, _, render in site_page_jobs(report):
        yield relative, render()


def site_page_jobs(report: dict[str, Any]) -> Iterator[tuple[str, str | None, Callable[[], str]]]:
    """(relative path, key, how to render it) of every page of the site, the index first. A pair page's key
    digests everything it shows (and this module's code): a page with the key of a page written before is
    that page, and need not be rendered again. Thread and list pages are built here (cheaply) and keyed by
    a digest of their HTML, so an unchanged one is not written again either; the index has no key.

    The report's articles are gone through once for their titles and dates and its pairs twice (once for
    the lists, once for the pages, a pair at a time): the site costs the memory of a line per article and
    per pair, not of their texts.
    """
    site = _Site(report)
    yield INDEX, None, site.index
    for pair in report["duplicates"]:
        yield site.pair_path(pair), site.pair_key(pair), partial(site.pair_page, pair)
    pages = chain(
        (page for thread in report["threads"] for page in site.thread_pages(thread)),
        site.list_pages("pairs", "All duplicate pairs", site.pairs, site.pair_row, site.PAIR_HEAD),
        site.list_pages("threads", "All story threads", report["threads"], site.thread_row, site.THREAD_HEAD),
    )
    for relative, page in pages:
        yield relative, "page:" + hashlib.sha1(page.encode("utf-8")).hexdigest(), partial(str, page)


_CODE = hashlib.sha1(Path(__file__).read_bytes()).hexdigest()
"""This module's code, in every page key: a change to how pages look renders them all again."""
_SHOWN_OF_PAIR = ("articles", "kind", "first", "containment", "shared_quotes", "matches")


def page_name(key: str) -> str:
    """A file name for an id: stable from night to night, safe whatever characters the id holds."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def when(moment: str | None) -> str:
    """A date as an editor reads it, the zone said: "2026-12-02 06:00 UTC" for a stored (UTC) date,
    "2026-12-02 09:00 UTC+03:00" for one with its source's offset."""
    if not moment:
        return "date unknown"
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    offset = parsed.strftime("%z")
    zone = "UTC" if not offset or offset == "+0000" else f"UTC{offset[:3]}:{offset[3:]}"
    return f"{parsed:%Y-%m-%d %H:%M} {zone}"


def published(article: dict[str, Any]) -> str:
    """When an article was published, in its source's own time zone when the input said it."""
    return when(article.get("published_local") or article.get("published_at"))


class _Facts(NamedTuple):
    """What the site shows of an article beside its pairs and threads (its text is not kept)."""

    title: str | None
    source: str | None
    url: str | None
    published: str

    @classmethod
    def of(cls, article: dict[str, Any]) -> _Facts:
        return cls(article.get("title"), article.get("source"), article.get("url"), published(article))


_UNKNOWN = _Facts(None, None, None, when(None))


def _pair_line(pair: dict[str, Any]) -> dict[str, Any]:
    """A pair as the lists and timelines show it: without its passages and quotes, only their count."""
    return {
        "articles": pair["articles"],
        "kind": pair["kind"],
        "score": pair["score"],
        "first": pair.get("first"),
        "containment": pair["containment"],
        "quotes": len(pair["shared_quotes"]),
        "new": pair.get("new"),
    }


def marked(text: str, other: str) -> str:
    """`text` escaped, its words that `other` also has (in matching form) in <mark>, a run of such words
    (apart only by spaces) in one."""
    shared = {_folded(word) for word in set(_WORD.findall(other))}

    def mark(token: re.Match[str]) -> str:
        word = token.group()
        return f"<mark>{word}</mark>" if word[0] != "&" and _folded(word) in shared else word

    # escaping leaves words as they are; entities (&lt;) are passed over
    return _JOINED_MARKS.sub(r"\1", _WORD_OR_ENTITY.sub(mark, _h(text)))


_WORD_OR_ENTITY = re.compile(r"&#?\w+;|\w+", re.UNICODE)
_JOINED_MARKS = re.compile(r"</mark>(\s+)<mark>")
_folded = lru_cache(maxsize=1 << 16)(fold)


def _joined(found: dict[str, Any]) -> str:
    """The badge of a thread or group that articles joined tonight (none if none did)."""
    joined = len(found.get("new_articles", []))
    return f' <span class="new">+{joined} tonight</span>' if joined else ""


def _group_badge(group: dict[str, Any]) -> str:
    """«new tonight» for a group that formed tonight, else the badge of the copies that joined it tonight."""
    return ' <span class="new">new tonight</span>' if group.get("new") else _joined(group)


def _h(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _bdi(text: Any) -> str:
    return f'<bdi dir="auto">{_h(text)}</bdi>'


def _link(url: str | None, label: str) -> str:
    if url and _SAFE_URL.match(url.strip()):
        return f'<a href="{_h(url.strip())}" rel="noopener noreferrer" dir="auto">{_h(label)}</a>'
    return _bdi(label)


def _page(title: str, body: str, depth: int) -> str:
    home = "../" * depth + INDEX
    nav = "" if depth == 0 else f'<nav><a href="{home}">← tonight</a></nav>'
    return (
        '<!DOCTYPE html>\n<html lang="en" dir="ltr"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_h(title)}</title><style>{_CSS}</style></head><body>\n{nav}{body}\n</body></html>\n"
    )


class _Site:
    PAIR_HEAD = "<tr><th>first published (without dates: A)</th><th>also carried by</th><th>what they share</th></tr>"
    THREAD_HEAD = "<tr><th>thread</th><th>articles</th><th>from</th><th>to</th></tr>"
    GROUP_HEAD = "<tr><th>first published</th><th>articles</th><th>group</th></tr>"

    def __init__(self, report: dict[str, Any]) -> None:
        self.report = report
        self.articles = {a["id"]: _Facts.of(a) for a in report["articles"]}
        self.thread_of = {a: t["id"] for t in report["threads"] for a in t["articles"]}
        self.threads = {t["id"]: t for t in report["threads"]}
        self.groups = report.get("groups") or []
        self.group_size = {a: len(g["articles"]) for g in self.groups for a in g["articles"]}
        self.pairs = [_pair_line(pair) for pair in report["duplicates"]]
        self.pairs_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for pair in self.pairs:
            for article in pair["articles"]:
                self.pairs_of[article].append(pair)

    # paths, from the site's root
    def pair_path(self, pair: dict[str, Any]) -> str:
        a, b = pair["articles"]
        return f"pairs/{page_name(a + chr(0) + b)}.html"

    def thread_path(self, thread_id: str, page: int = 1) -> str:
        suffix = "" if page == 1 else f"-{page}"
        return f"threads/{page_name(thread_id)}{suffix}.html"

    def ordered(self, pair: dict[str, Any]) -> tuple[str, str, bool]:
        """(earlier, later, whether the order is known) of a pair's articles."""
        a, b = pair["articles"]
        if pair.get("first") == b:
            return b, a, True
        return a, b, pair.get("first") == a

    def article_cell(self, article_id: str, prefix: str, full: bool = False, on_timeline: bool = False) -> str:
        """Title (linked to the article when its URL is http(s)), source, date, thread and id; `full`: the
        whole title, else its first words; `on_timeline`: the thread's own page, which shows the date."""
        article = self.articles.get(article_id, _UNKNOWN)
        title = article.title or article_id
        title = _link(article.url, title if full else shortened(title, 140))
        thread = self.thread_of.get(article_id)
        about = [_bdi(article.source or "source unknown")]
        if not on_timeline:
            about.append(article.published)
            if thread:
                about.append(f'<a href="{prefix}{self.thread_path(thread)}">story thread</a>')
        about.append(f"<code>{_h(article_id)}</code>")
        if copies := self.group_size.get(article_id, 1) - 1:
            about.append(f"with {counted(copies, 'identical copy')}")
        return f'<div class="text">{title}</div><div class="muted">{" · ".join(about)}</div>'

    def share_words(self, pair: dict[str, Any]) -> str:
        earlier, later, known = self.ordered(pair)
        later_share = pair["containment"].get(later, 0.0)
        which = "the later article found in the earlier" if known else "the second found in the first"
        return (
            f'{_h(KIND_WORDS.get(pair["kind"], pair["kind"]))}: <span class="share">{later_share:.0%}</span> of {which}'
        )

    def pair_row(self, pair: dict[str, Any], prefix: str) -> str:
        earlier, later, _ = self.ordered(pair)
        new = ' <span class="new">new tonight</span>' if pair.get("new") else ""
        quotes = pair["quotes"]
        quoted = f" · {quotes} shared quote{'s' if quotes != 1 else ''}" if quotes else ""
        return (
            f"<tr><td>{self.article_cell(earlier, prefix)}</td><td>{self.article_cell(later, prefix)}</td>"
            f'<td><a href="{prefix}{self.pair_path(pair)}">{self.share_words(pair)}</a>{quoted}{new}</td></tr>'
        )

    def group_row(self, group: dict[str, Any], prefix: str) -> str:
        first = group["first"] or group["articles"][0]
        return (
            f"<tr><td>{self.article_cell(first, prefix)}</td><td>{len(group['articles'])}{_group_badge(group)}</td>"
            f"<td><code>{_h(group['id'])}</code></td></tr>"
        )

    def thread_row(self, thread: dict[str, Any], prefix: str) -> str:
        new = _joined(thread)
        return (
            f'<tr><td><a href="{prefix}{self.thread_path(thread["id"])}">{_bdi(thread["label"] or thread["id"])}'
            f"</a>{new}</td><td>{len(thread['articles'])}</td><td>{when(thread['first_published'])}</td>"
            f"<td>{when(thread['last_published'])}</td></tr>"
        )

    def index(self) -> str:
        report, run = self.report, self.report["run"]
        tonight = report.get("tonight") or {}
        new_pairs = sorted((p for p in self.pairs if p.get("new")), key=lambda p: -p["score"])
        new_threads = {t["id"] for t in tonight.get("new_threads", [])}
        grown = {t["id"] for t in tonight.get("grown_threads", [])}
        changed = [t for t in report["threads"] if t["id"] in new_threads | grown]
        parts = [
            f"<h1>storythreads · tonight's report <code>{_h(run['id'])}</code></h1>",
            f'<p class="muted">Prefect flow run <b class="run-name">{_h(run.get("name") or "")}</b> · '
            f"{when(run.get('started_at'))}</p>",
            "<ul>",
            f"<li>{counted(len(tonight.get('new_articles', [])), 'new article')}, "
            f"{len(tonight.get('updated_articles', []))} updated, {tonight.get('unchanged_articles', 0)} unchanged; "
            f"{counted(run['articles_skipped'], 'input')} skipped; "
            f"{run.get('articles_in_window', 0)} articles in the window</li>",
            f"<li>{counted(len(new_pairs), 'new duplicate pair')} tonight, {len(report['duplicates'])} in the window · "
            f'<a href="pairs/list-1.html">all duplicate pairs</a></li>',
            f"<li>{len(new_threads)} new and {counted(len(grown), 'grown story thread')}, "
            f"{len(report['threads'])} in the window"
            f' · <a href="threads/list-1.html">all story threads</a></li>',
            "</ul>",
            "<h2>Who copied whom tonight</h2>",
        ]
        parts += self.table(new_pairs[:INDEX_ROWS], self.PAIR_HEAD, self.pair_row, "", "No new duplicate pair.")
        if len(new_pairs) > INDEX_ROWS:
            parts.append(
                f'<p>… and {len(new_pairs) - INDEX_ROWS} more new pairs in <a href="pairs/list-1.html">all pairs</a>'
                "</p>"
            )
        if self.groups:
            parts.append(
                f"<h2>Syndicated copies: {counted(len(self.groups), 'duplicate group')}</h2>"
                '<p class="muted">Articles carrying the same reporting text; a pair listed for the first stands '
                "for every copy.</p>"
            )
            parts += self.table(self.groups[:INDEX_ROWS], self.GROUP_HEAD, self.group_row, "", "")
            if len(self.groups) > INDEX_ROWS:
                parts.append(f"<p>… and {len(self.groups) - INDEX_ROWS} more groups in report.json</p>")
        parts.append("<h2>New and grown story threads</h2>")
        parts += self.table(changed[:INDEX_ROWS], self.THREAD_HEAD, self.thread_row, "", "No thread changed.")
        if len(changed) > INDEX_ROWS:
            parts.append(
                f'<p>… and {len(changed) - INDEX_ROWS} more in <a href="threads/list-1.html">all threads</a></p>'
            )
        changes = [
            (merge["into"], "merged into it: " + ", ".join(merge["merged"])) for merge in tonight.get("merges", [])
        ] + [(split["from"], "split into: " + ", ".join(split["into"])) for split in tonight.get("splits", [])]
        if changes:
            parts.append("<h2>Merges and splits</h2><ul>")
            for thread_id, what in changes[:INDEX_ROWS]:
                target = self.threads.get(thread_id)
                name = (
                    f'<a href="{self.thread_path(thread_id)}">{_bdi(target["label"] or thread_id)}</a>'
                    if target
                    else f"<code>{_h(thread_id)}</code>"
                )
                parts.append(f"<li>{name}: <code>{_h(what)}</code></li>")
            parts.append("</ul>")
        if report["skipped"]:
            parts.append(f"<h2>Skipped inputs ({len(report['skipped'])})</h2><table>")
            parts += [
                f'<tr><td dir="auto">{_h(s["input"])}</td><td>{_h(s["reason"])}</td></tr>'
                for s in report["skipped"][:INDEX_ROWS]
            ]
            parts.append("</table>")
            if len(report["skipped"]) > INDEX_ROWS:
                parts.append(f"<p>… and {len(report['skipped']) - INDEX_ROWS} more in report.json</p>")
        return _page(f"storythreads report {run['id']}", "\n".join(parts), depth=0)

    def table(self, rows: list[dict[str, Any]], head: str, row: Any, prefix: str, empty: str) -> list[str]:
        if not rows:
            return [f"<p>{_h(empty)}</p>"]
        return ["<table>", head, *(row(item, prefix) for item in rows), "</table>"]

    def pair_key(self, pair: dict[str, Any]) -> str:
        """A digest of what the pair's page shows: the pair, its articles' facts and threads, the code."""
        shown = {key: pair.get(key) for key in _SHOWN_OF_PAIR}
        about = [(self.articles.get(a), self.thread_of.get(a)) for a in pair["articles"]]
        text = json.dumps([_CODE, shown, about], ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def pair_page(self, pair: dict[str, Any]) -> str:
        earlier, later, known = self.ordered(pair)
        containment = pair["containment"]
        order = "published first" if known else "order unknown (no publication dates)"
        parts = [
            f"<h1>{_h(KIND_WORDS.get(pair['kind'], pair['kind']).capitalize())}</h1>",
            '<table class="sides"><tr>'
            f"<th>A · {order}</th><th>B</th></tr><tr><td>{self.article_cell(earlier, '../', full=True)}</td>"
            f"<td>{self.article_cell(later, '../', full=True)}</td></tr>",
            f'<tr><td>share of A found in B: <span class="share">{containment.get(earlier, 0):.0%}</span></td>'
            f'<td>share of B found in A: <span class="share">{containment.get(later, 0):.0%}</span></td></tr>',
            "</table>",
        ]
        swapped = earlier != pair["articles"][0]
        if pair["shared_quotes"]:
            parts.append('<h2>The same quotes</h2><table class="sides">')
            for quote in pair["shared_quotes"]:
                a, b = (quote["b"], quote["a"]) if swapped else (quote["a"], quote["b"])
                speakers = " / ".join(dict.fromkeys(s for s in (a.get("speaker"), b.get("speaker")) if s))
                parts.append(
                    f'<tr><th colspan="2">said by <span class="speaker">{_bdi(speakers or "an unnamed speaker")}'
                    f"</span></th></tr><tr>{self.sides(a['text'], b['text'])}</tr>"
                )
            parts.append("</table>")
        parts.append("<h2>The shared passages</h2>")
        if not pair["matches"]:
            parts.append("<p>No passage matched word for word; the model read the two as the same reporting.</p>")
        parts.append('<table class="sides"><tr><th>A</th><th>B</th></tr>')
        used, shown = sum(map(len, parts)), 0
        for match in pair["matches"]:
            a, b = (match["b"], match["a"]) if swapped else (match["a"], match["b"])
            row = f"<tr>{self.sides(a['text'], b['text'])}</tr>"
            if used + len(row.encode("utf-8")) > PAGE_BUDGET:
                break
            parts.append(row)
            used += len(row.encode("utf-8"))
            shown += 1
        parts.append("</table>")
        if shown < len(pair["matches"]):
            parts.append(f"<p>… and {len(pair['matches']) - shown} more shared passages in report.json</p>")
        title = self.articles.get(earlier, _UNKNOWN).title or earlier
        return _page(f"{KIND_WORDS.get(pair['kind'], pair['kind'])}: {shortened(title, 80)}", "\n".join(parts), 1)

    def sides(self, a: str, b: str) -> str:
        return f'<td class="text" dir="auto">{marked(a, b)}</td><td class="text" dir="auto">{marked(b, a)}</td>'

    def thread_pages(self, thread: dict[str, Any]) -> Iterator[tuple[str, str]]:
        members = thread["articles"]
        joined = set(thread.get("new_articles", []))
        pages = max(1, -(-len(members) // THREAD_ROWS))
        inside = set(members)
        for page in range(1, pages + 1):
            chunk = members[(page - 1) * THREAD_ROWS : page * THREAD_ROWS]
            parts = [
                f"<h1>Story thread {_bdi(thread['label'] or thread['id'])}</h1>",
                f'<p class="muted"><code>{_h(thread["id"])}</code> · {len(members)} articles · '
                f"{when(thread['first_published'])} to {when(thread['last_published'])}</p>",
                "<h2>Timeline</h2><table><tr><th>published</th><th>article</th><th>shares reporting with</th></tr>",
            ]
            for article_id in chunk:
                article = self.articles.get(article_id, _UNKNOWN)
                new = ' <span class="new">new tonight</span>' if article_id in joined else ""
                copies = [p for p in self.pairs_of.get(article_id, []) if set(p["articles"]) <= inside]
                links = ", ".join(
                    f'<a href="../{self.pair_path(p)}">{_bdi(shortened(self._other_title(p, article_id), 50))}</a>'
                    for p in copies[:PAIR_LINKS]
                )
                if len(copies) > PAIR_LINKS:
                    links += f" and {len(copies) - PAIR_LINKS} more"
                parts.append(
                    f"<tr><td>{article.published}{new}</td>"
                    f"<td>{self.article_cell(article_id, '../', on_timeline=True)}</td><td>{links}</td></tr>"
                )
            parts.append("</table>")
            parts.append(self.pager(lambda n, tid=thread["id"]: self.thread_path(tid, n).split("/")[1], page, pages))
            yield self.thread_path(thread["id"], page), _page(f"thread {thread['label']}", "\n".join(parts), 1)

    def _other_title(self, pair: dict[str, Any], article_id: str) -> str:
        other = next((a for a in pair["articles"] if a != article_id), article_id)
        return self.articles.get(other, _UNKNOWN).title or other

    def list_pages(
        self, folder: str, heading: str, items: list[dict[str, Any]], row: Any, head: str
    ) -> Iterator[tuple[str, str]]:
        ordered = sorted(items, key=lambda p: -p["score"]) if folder == "pairs" else items
        pages = max(1, -(-len(ordered) // ROWS_PER_PAGE))
        for page in range(1, pages + 1):
            chunk = ordered[(page - 1) * ROWS_PER_PAGE : page * ROWS_PER_PAGE]
            parts = [f"<h1>{_h(heading)} ({len(ordered)})</h1>"]
            parts += self.table(chunk, head, row, "../", "None in the window.")
            parts.append(self.pager(lambda n: f"list-{n}.html", page, pages))
            yield f"{folder}/list-{page}.html", _page(f"{heading}, page {page}", "\n".join(parts), 1)

    @staticmethod
    def pager(name: Any, page: int, pages: int) -> str:
        if pages == 1:
            return ""
        links = [f"<b>{n}</b>" if n == page else f'<a href="{name(n)}">{n}</a>' for n in range(1, pages + 1)]
        return f"<p>pages: {' '.join(links)}</p>"
