"""Rendering a report as JSON, Markdown and a standalone HTML page, and writing the files.

Every piece of article text is escaped: in HTML through `html.escape`, in Markdown by
escaping the characters that Markdown or embedded HTML would interpret.
"""

from __future__ import annotations

import html
import json
import os
import re
import unicodedata
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ijson

from corpus.files import link_atomic, readable_mode, write_atomic
from reports.report import Chunked, Spooled
from reports.site import INDEX, site_page_jobs
from reports.wording import counted, plural, shortened

REPORT_FILES = ("report.json", "report.md", "report.html")

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")


def md(text: str | None) -> str:
    """`text` made inert for Markdown: HTML as entities, Markdown syntax escaped, lines joined, and set
    in its own bidirectional isolate (FSI…PDI), so an Arabic label never reorders the ids beside it."""
    if text is None:
        return ""
    flat = " ".join(str(text).split())
    if not flat:
        return ""
    inert = _MD_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))
    if _RTL_RUN.fullmatch(inert) is None:  # right-to-left words among others: each run isolated too
        inert = _RTL_RUN.sub(lambda run: _FSI + run.group() + _PDI, inert)
    return _FSI + inert + _PDI


_FSI, _PDI = "\u2068", "\u2069"
"""First-strong isolate and its pop: the text between takes its direction from its own first letter."""
_RTL_LETTERS = "\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc"
_RTL_RUN = re.compile(f"[{_RTL_LETTERS}]+(?:[^\\w{_RTL_LETTERS}]+[{_RTL_LETTERS}]+)*")
"""Hebrew, Arabic and Syriac words, with the spaces and punctuation between them."""


def _json_lines(records: Iterable[Any]) -> Iterator[str]:
    return (json.dumps(record, ensure_ascii=False) for record in records)


def to_json(report: dict[str, Any]) -> str:
    """The report as JSON (see `json_chunks`), in one string."""
    return "".join(json_chunks(report))


def json_chunks(report: dict[str, Any]) -> Iterator[str]:
    """The report as JSON, piece by piece (a file is written as they come, never whole in memory), non-ASCII
    text kept readable: each top-level entry on its own lines, each article, pair and thread of a list on one
    line.

    (Indenting everything would run Python's slow JSON encoder over every article of the
    window; one line per record keeps the fast one and the file easy to grep and diff.)
    """
    yield "{\n"
    for number, (key, value) in enumerate(report.items()):
        yield ",\n" if number else ""
        if isinstance(value, list | Chunked) and len(value):
            yield f"  {json.dumps(key)}: [\n"
            lines = value.json_lines() if isinstance(value, Spooled) else _json_lines(value)
            for index, line in enumerate(lines):
                yield (",\n" if index else "") + "    " + line
            yield "\n  ]"
        else:
            value = [] if isinstance(value, Chunked) else value
            text = json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n  ")
            yield f"  {json.dumps(key)}: {text}"
    yield "\n}\n"


def _titles(report: dict[str, Any], wanted: Iterable[str] | None = None) -> dict[str, str]:
    """The titles of the `wanted` articles (None: of all), in one pass over the report's articles."""
    if wanted is None:
        return {a["id"]: a["title"] for a in report["articles"]}
    ids = set(wanted)
    return {a["id"]: a["title"] for a in report["articles"] if a["id"] in ids} if ids else {}


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few plain lines: counts read and skipped, pairs by kind, threads."""
    run = report["run"]
    kinds = ", ".join(f"{count} {kind}" for kind, count in run["duplicate_pairs"].items())
    return [
        f"articles read: {run['articles_read']}, skipped: {run['articles_skipped']}, "
        f"in the window: {run.get('articles_in_window', run['articles_read'])}",
        f"encoder: {run['encoder']}"
        + (f", model: {run['model']}" if run.get("model") else "")
        + (f" ({run['encoder_note']})" if run["encoder_note"] else ""),
        f"duplicate pairs: {sum(run['duplicate_pairs'].values())} ({kinds})",
        f"duplicate groups (the same reporting text): {run.get('duplicate_groups', 0)}, "
        f"holding {run.get('articles_in_groups', 0)} articles",
        f"threads: {run['threads']}, unthreaded articles: {run['unthreaded']}",
    ]


def duplicates_table(report: dict[str, Any], limit: int | None = None) -> list[dict[str, Any]]:
    """One row per duplicate pair (the first `limit`), for a table artifact or a terminal table."""
    pairs = report["duplicates"] if limit is None else report["duplicates"][:limit]
    return [_duplicate_row(pair) for pair in pairs]


def new_duplicates_table(report: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], int]:
    """Rows of the `limit` strongest pairs found tonight, and how many tonight found in all.

    The report lists pairs strongest first: reading stops at the `limit`-th new one, not at the end
    of a window's tens of thousands of pairs.
    """
    rows: list[dict[str, Any]] = []
    if limit > 0:
        for pair in report["duplicates"]:
            if pair.get("new", True):
                rows.append(_duplicate_row(pair))
                if len(rows) == limit:
                    break
    return rows, len(report["tonight"]["new_duplicates"])


def _duplicate_row(pair: dict[str, Any]) -> dict[str, Any]:
    return {
        "article_a": pair["articles"][0],
        "article_b": pair["articles"][1],
        "kind": pair["kind"],
        "score": pair["score"],
        "containment_a": pair["containment"][pair["articles"][0]],
        "containment_b": pair["containment"][pair["articles"][1]],
        "matched_passages": len(pair["matches"]),
        "shared_quotes": len(pair["shared_quotes"]),
        "new": bool(pair.get("new", True)),
    }


def threads_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per story thread: id, label, size, dates, and how many articles joined tonight."""
    return [
        {
            "thread": thread["id"],
            "label": thread["label"],
            "articles": len(thread["articles"]),
            "joined_tonight": len(thread.get("new_articles", [])),
            "first_published": thread["first_published"] or "",
            "last_published": thread["last_published"] or "",
        }
        for thread in report["threads"]
    ]


def tonight_lines(report: dict[str, Any], limit: int | None = None) -> list[str]:
    """What changed tonight, as plain lines: articles, new pairs, new, grown, merged and split threads.

    With `limit`, at most that many of the strongest new pairs and of the largest new and grown
    threads are listed, each list ending with how many more the report holds.
    """
    tonight = report.get("tonight") or {}
    run = report["run"]
    new_pairs = tonight.get("new_duplicates", [])
    strongest = sorted(new_pairs, key=lambda p: -p["score"]) if limit is not None else new_pairs
    titles = _titles(report, (pair["articles"][0] for pair in strongest[:limit]))
    lines = [
        f"{counted(len(tonight.get('new_articles', [])), 'new article')}, "
        f"{len(tonight.get('updated_articles', []))} updated, {tonight.get('unchanged_articles', 0)} unchanged; "
        f"{counted(run['vectors_embedded'], 'text')} embedded, {run.get('vectors_reused', 0)} reused"
    ]
    lines.append(f"{len(new_pairs)} new duplicate {plural(len(new_pairs), 'pair')}" + (":" if new_pairs else ""))
    for pair in strongest[:limit]:
        a, b = pair["articles"]
        lines.append(f"  {a} ↔ {b} ({pair['kind']}, {pair['score']:.2f}): {shortened(titles.get(a, ''), 60)}")
    lines += _more(len(new_pairs), limit, "new pairs")
    for key, members, line in (
        ("new_threads", "articles", "new thread {id} «{label}»: {members}"),
        ("grown_threads", "added", "thread {id} «{label}» grew: +{members}"),
    ):
        threads = tonight.get(key, [])
        if limit is not None:  # the largest first
            threads = sorted(threads, key=lambda t, members=members: -len(t[members]))
        for thread in threads[:limit]:
            shown = ", ".join(thread[members][:limit])
            lines.append(line.format(id=thread["id"], label=thread["label"], members=shown))
        lines += _more(len(threads), limit, key.replace("_", " "))
    for key, members, line in (
        ("new_groups", "articles", "new duplicate group {id} ({size} articles): {members}"),
        ("grown_groups", "added", "duplicate group {id} ({size} articles) grew: +{members}"),
    ):
        groups = tonight.get(key, [])
        for group in sorted(groups, key=lambda g, members=members: -len(g[members]))[:limit]:
            more = " …" if limit is not None and len(group[members]) > limit else ""
            shown = ", ".join(group[members][:limit]) + more
            lines.append(line.format(id=group["id"], size=group["size"], members=shown))
        lines += _more(len(groups), limit, key.replace("_", " ").replace("groups", "duplicate groups"))
    for merge in tonight.get("merges", []):
        lines.append(f"merged into {merge['into']}: {', '.join(merge['merged'])}")
    for split in tonight.get("splits", []):
        lines.append(f"split from {split['from']}: {', '.join(split['into'])}")
    return lines


def _more(total: int, limit: int | None, what: str) -> list[str]:
    if limit is None or total <= limit:
        return []
    return [f"  … and {total - limit} more {what} (all in report.json)"]


def to_markdown(report: dict[str, Any], detail_limit: int | None = None, row_limit: int | None = None) -> str:
    """The report as Markdown (see `markdown_lines`), in one string."""
    return "".join(line + "\n" for line in markdown_lines(report, detail_limit, row_limit))


def markdown_lines(
    report: dict[str, Any], detail_limit: int | None = None, row_limit: int | None = None
) -> Iterator[str]:
    """The report as Markdown, line by line: summary, duplicate pairs with evidence, threads, skipped inputs.

    With `detail_limit`, only the first that many pairs get their evidence written out; with
    `row_limit`, every list and table stops after that many rows and says how many more there are.
    """
    yield f"# storythreads report — run {md(report['run']['id'])}"
    yield ""
    if report["run"].get("name"):
        yield f"Prefect flow run **{md(report['run']['name'])}**"
        yield ""
    yield from (f"- {md(line)}" for line in summary_lines(report))
    yield from ("", "## Tonight", "")
    for line in tonight_lines(report, row_limit):
        yield f"- {md(line.strip())}" if not line.startswith("  ") else f"  - {md(line.strip())}"
    yield from _md_groups(report, row_limit)
    yield from ("", "## Duplicate reporting", "")
    pairs = report["duplicates"]
    if not pairs:
        yield "No two articles share reporting."
    else:
        yield "| article A | article B | kind | score | containment A | containment B | quotes |"
        yield "|---|---|---|---|---|---|---|"
        for row in duplicates_table(report, row_limit):
            yield (
                f"| {md(row['article_a'])} | {md(row['article_b'])} | {row['kind']} | {row['score']:.2f} "
                f"| {row['containment_a']:.2f} | {row['containment_b']:.2f} | {row['shared_quotes']} |"
            )
        if row_limit is not None and len(pairs) > row_limit:
            yield from ("", f"… and {len(pairs) - row_limit} more pairs in report.json.")
        detailed = len(pairs) if detail_limit is None else min(detail_limit, len(pairs))
        # every title, read in one pass: a line per article, where going through the pairs first
        # to learn which are needed would read all their evidence once more
        titles = _titles(report) if detailed else {}
        for pair in pairs if detailed == len(pairs) else pairs[:detailed]:
            yield from _md_pair(pair, titles)
        if detailed < len(pairs):
            yield from ("", f"Evidence for the other {len(pairs) - detailed} pairs is in report.json.")
    yield from ("", "## Story threads", "")
    for thread in report["threads"][:row_limit]:
        members = ", ".join(md(article) for article in thread["articles"])
        yield f"- **{md(thread['id'])}** {md(thread['label'])}: {members}"
    yield from (f"- {line.strip()}" for line in _more(len(report["threads"]), row_limit, "threads"))
    if report["unthreaded"]:
        shown = report["unthreaded"][:row_limit]
        yield f"- unthreaded ({len(report['unthreaded'])}): {', '.join(md(article) for article in shown)}"
    if report["skipped"]:
        yield from ("", "## Skipped inputs", "")
        yield from (f"- {md(s['input'])}: {md(s['reason'])}" for s in report["skipped"][:row_limit])
        yield from (f"- {line.strip()}" for line in _more(len(report["skipped"]), row_limit, "skipped inputs"))


def _md_groups(report: dict[str, Any], row_limit: int | None) -> Iterator[str]:
    groups = report.get("groups") or []
    if not groups:
        return
    yield from ("", "## Duplicate groups", "")
    yield "Articles carrying the same reporting text (after folding): one finding each; the pairs inside a group"
    yield "are implied, and a pair listed below for its representative holds for every article of the group."
    yield ""
    yield "| group | kind | articles | first | representative | new tonight |"
    yield "|---|---|---|---|---|---|"
    for group in groups[:row_limit]:
        yield (
            f"| {md(group['id'])} | {group['kind']} | {len(group['articles'])} | {md(group['first'])} "
            f"| {md(group['representative'])} | {len(group.get('new_articles', []))} |"
        )
    yield from (f"- {line.strip()}" for line in _more(len(groups), row_limit, "groups"))
    yield ""
    for group in groups[:row_limit]:
        members = group["articles"] if row_limit is None else group["articles"][:row_limit]
        more = len(group["articles"]) - len(members)
        yield f"- **{md(group['id'])}**: {', '.join(md(a) for a in members)}" + (f" … and {more} more" if more else "")


def _group_note(pair: dict[str, Any], side: int) -> str:
    group = (pair.get("groups") or [None, None])[side]
    return f" (for duplicate group {group})" if group else ""


def _md_pair(pair: dict[str, Any], titles: dict[str, str]) -> Iterator[str]:
    a, b = pair["articles"]
    yield from ("", f"### {md(a)} ↔ {md(b)} ({pair['kind']})", "")
    yield _side_line("A", titles.get(a) or "", _group_note(pair, 0))
    yield _side_line("B", titles.get(b) or "", _group_note(pair, 1))
    if pair["first"]:
        yield from ("", f"- published first: {md(pair['first'])}")
    for quote in pair["shared_quotes"]:
        speaker = md(quote["speaker"]) or "unnamed speaker"
        yield from _md_evidence(f"shared quote ({speaker})", quote)
    for match in pair["matches"]:
        yield from _md_evidence(_match_heading(pair["kind"], match), match)


def _md_evidence(label: str, evidence: dict[str, Any]) -> Iterator[str]:
    """The label, then A's wording and B's, each a paragraph of its own in its own direction."""
    yield from ("", f"**{label}**", "")
    for side in ("a", "b"):
        yield _side_line(side.upper(), "«" + shortened(evidence[side]["text"], 160) + "»")


def _side_line(side: str, text: str, note: str = "") -> str:
    """One side's wording (a title, a quote, a passage) as an HTML paragraph that Markdown passes through, set in
    the direction of its first letter: a viewer that lays out a paragraph left to right (the Prefect UI)
    interleaves the pieces of two Arabic quotes that share a wrapping line, and turns «» the wrong way."""
    flat = " ".join(text.split())
    return f'<p dir="{direction(flat)}"><b>{side}</b> {html.escape(flat, quote=False)}{html.escape(note)}</p>'


def direction(text: str) -> str:
    """`rtl` when the first letter of `text` with a strong direction is right-to-left (Arabic, Hebrew), else `ltr`."""
    for character in text:
        kind = unicodedata.bidirectional(character)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def write_reports(
    report: dict[str, Any],
    output: str | Path,
    before_json: Callable[[dict[str, Any]], None] | None = None,
    previous: str | Path | None = None,
) -> dict[str, Path]:
    """Write report.md, the report site (`reports.site`: report.html and the pages it links to) and then
    report.json into `output`; returns the paths of the three.

    `before_json`, if given, may complete the report (e.g. the time all this took) just before
    report.json is rendered; the other files are written already. Pages that are the same as in the
    `previous` run's folder are linked from there (see `write_site`).
    """
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"report output {str(folder)!r} is a file; expected a folder (or a path to create one)")
    paths = {name: folder / name for name in ("report.json", "report.md", "report.html")}
    write_atomic(paths["report.md"], (line + "\n" for line in markdown_lines(report)))
    write_site(report, folder, Path(previous) if previous is not None else None)
    if before_json is not None:
        before_json(report)
    write_atomic(paths["report.json"], json_chunks(report))
    return paths


PAGE_WRITERS = 4


PAGE_KEYS = "pairs/keys.json"
"""Beside the pair pages: each keyed page's key (see `reports.site.site_page_jobs`), for the next run to reuse."""


def write_site(report: dict[str, Any], folder: Path, previous: Path | None = None) -> None:
    """The report site's pages, the index last so that it never links to a page not yet written; then the
    pages a previous run left in the folder and this one did not write are removed.

    A page whose key is that of a page in `previous` (the last run's folder; or `folder` itself) is not
    rendered again: that file is linked (copied where links are not possible).
    """
    earlier = _page_keys(previous) if previous is not None else {}
    mode = readable_mode()  # asked once: reading the umask for each of thousands of pages cost seconds
    in_place = previous is not None and previous.resolve() == folder.resolve()
    keys: dict[str, str] = {}
    written = {INDEX}
    index = None
    # creating a file waits on the file system, not on Python: a few writers overlap those waits
    with ThreadPoolExecutor(max_workers=PAGE_WRITERS) as writers:
        pending: deque[Future[None]] = deque()
        for relative, key, render in site_page_jobs(report):
            if relative == INDEX:
                index = render()
                continue
            written.add(relative)
            if key is not None:
                keys[relative] = key
            if previous is not None and key is not None and earlier.get(relative) == key:
                if in_place and (folder / relative).is_file():
                    continue  # the page is there already
                if not in_place and (previous / relative).is_file():
                    pending.append(writers.submit(link_atomic, previous / relative, folder / relative))
                    continue
            pending.append(writers.submit(_render_and_write, render, folder / relative, mode))
            if len(pending) > 4 * PAGE_WRITERS:  # pages in memory stay few
                pending.popleft().result()
        for done in pending:
            done.result()
    assert index is not None
    write_atomic(folder / PAGE_KEYS, json.dumps(keys))
    write_atomic(folder / INDEX, index)
    for stale_folder in (folder / "pairs", folder / "threads"):
        if stale_folder.is_dir():
            for page in stale_folder.glob("*.html"):
                if str(page.relative_to(folder)) not in written:
                    page.unlink()


def _render_and_write(render: Callable[[], str], path: Path, mode: int) -> None:
    write_atomic(path, render(), False, mode)


def _page_keys(folder: Path) -> dict[str, str]:
    try:
        keys = json.loads((folder / PAGE_KEYS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return keys if isinstance(keys, dict) else {}


MODEL_KINDS = ("reworded", "translated")
"""Pair kinds a model decided: their passages share meaning, not words."""


def _match_heading(kind: str, match: dict[str, Any]) -> str:
    """How a matched passage was matched: the model's similarity, or the shared words and the vectors' cosine."""
    if kind in MODEL_KINDS:
        return f"aligned passage · model similarity {match['similarity']:.2f}"
    return f"matched passage · overlap {match['overlap']:.2f} · cosine {match['similarity']:.2f}"


LONG_LISTS = ("articles", "duplicates")
"""The report's lists that are `Chunked`: read from where they are kept, never held whole."""


def read_back(report: dict[str, Any], written: Path) -> dict[str, Any]:
    """`report` with its long lists read from `written` (its report.json) from now on, not from the store
    that produced them (which the run closes).

    The file is held open, so a later run replacing it (`latest`), or its folder being removed, changes
    nothing for this report.
    """
    pinned = _PinnedFile(written)
    for key in LONG_LISTS:
        report[key] = Chunked(len(report[key]), lambda key=key: [pinned.items(f"{key}.item")])
    return report


class _PinnedFile:
    """The bytes of a file as they were when it was opened, whatever later happens to its path (POSIX keeps an
    open file's content until its last descriptor closes)."""

    def __init__(self, path: Path) -> None:
        self._descriptor = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._descriptor)

    def items(self, prefix: str) -> Iterator[Any]:
        return ijson.items(_Reader(self._descriptor), prefix, use_float=True)


class _Reader:
    """A reader of an open descriptor with its own position, so that several passes may overlap."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        data = os.pread(self._descriptor, size if size >= 0 else 1 << 30, self._offset)
        self._offset += len(data)
        return data
