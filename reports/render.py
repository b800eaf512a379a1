"""Rendering a report as JSON, Markdown and a standalone HTML page, and writing the files.

Every piece of article text is escaped: in HTML through `html.escape`, in Markdown by
escaping the characters that Markdown or embedded HTML would interpret.
"""

from __future__ import annotations

import html
import json
import re
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from corpus.files import write_atomic
from reports.site import INDEX, site_pages
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
        if isinstance(value, list) and value:
            yield f"  {json.dumps(key)}: [\n"
            for index, record in enumerate(value):
                yield (",\n" if index else "") + "    " + json.dumps(record, ensure_ascii=False)
            yield "\n  ]"
        else:
            text = json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n  ")
            yield f"  {json.dumps(key)}: {text}"
    yield "\n}\n"


def _titles(report: dict[str, Any]) -> dict[str, str]:
    return {a["id"]: a["title"] for a in report["articles"]}


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
        f"threads: {run['threads']}, unthreaded articles: {run['unthreaded']}",
    ]


def duplicates_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per duplicate pair, for a table artifact or a terminal table."""
    return [
        {
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
        for pair in report["duplicates"]
    ]


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
    titles = _titles(report)
    run = report["run"]
    lines = [
        f"{counted(len(tonight.get('new_articles', [])), 'new article')}, "
        f"{len(tonight.get('updated_articles', []))} updated, {tonight.get('unchanged_articles', 0)} unchanged; "
        f"{counted(run['vectors_embedded'], 'text')} embedded, {run.get('vectors_reused', 0)} reused"
    ]
    new_pairs = tonight.get("new_duplicates", [])
    lines.append(f"{len(new_pairs)} new duplicate {plural(len(new_pairs), 'pair')}" + (":" if new_pairs else ""))
    strongest = sorted(new_pairs, key=lambda p: -p["score"]) if limit is not None else new_pairs
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
    """The report as Markdown: summary, duplicate pairs with evidence, threads, skipped inputs.

    With `detail_limit`, only the first that many pairs get their evidence written out; with
    `row_limit`, every list and table stops after that many rows and says how many more there are.
    """
    titles = _titles(report)
    lines = [f"# storythreads report — run {md(report['run']['id'])}", ""]
    if report["run"].get("name"):
        lines += [f"Prefect flow run **{md(report['run']['name'])}**", ""]
    lines += [f"- {md(line)}" for line in summary_lines(report)]
    lines += ["", "## Tonight", ""]
    lines += [
        f"- {md(line.strip())}" if not line.startswith("  ") else f"  - {md(line.strip())}"
        for line in tonight_lines(report, row_limit)
    ]
    lines += ["", "## Duplicate reporting", ""]
    if not report["duplicates"]:
        lines.append("No two articles share reporting.")
    else:
        lines += [
            "| article A | article B | kind | score | containment A | containment B | quotes |",
            "|---|---|---|---|---|---|---|",
        ]
        rows = duplicates_table(report)
        for row in rows[:row_limit]:
            lines.append(
                f"| {md(row['article_a'])} | {md(row['article_b'])} | {row['kind']} | {row['score']:.2f} "
                f"| {row['containment_a']:.2f} | {row['containment_b']:.2f} | {row['shared_quotes']} |"
            )
        if row_limit is not None and len(rows) > row_limit:
            lines += ["", f"… and {len(rows) - row_limit} more pairs in report.json."]
        detailed = report["duplicates"][:detail_limit] if detail_limit is not None else report["duplicates"]
        for pair in detailed:
            a, b = pair["articles"]
            lines += ["", f"### {md(a)} ↔ {md(b)} ({pair['kind']})", ""]
            lines.append(f"- A: {md(titles.get(a))}")
            lines.append(f"- B: {md(titles.get(b))}")
            if pair["first"]:
                lines.append(f"- published first: {md(pair['first'])}")
            for quote in pair["shared_quotes"]:
                speaker = md(quote["speaker"]) or "unnamed speaker"
                lines.append(_md_evidence(f"shared quote ({speaker})", quote))
            for match in pair["matches"]:
                lines.append(_md_evidence(_match_heading(pair["kind"], match), match))
        if len(detailed) < len(report["duplicates"]):
            lines += [
                "",
                f"Evidence for the other {len(report['duplicates']) - len(detailed)} pairs is in report.json.",
            ]
    lines += ["", "## Story threads", ""]
    for thread in report["threads"][:row_limit]:
        members = ", ".join(md(article) for article in thread["articles"])
        lines.append(f"- **{md(thread['id'])}** {md(thread['label'])}: {members}")
    lines += [f"- {line.strip()}" for line in _more(len(report["threads"]), row_limit, "threads")]
    if report["unthreaded"]:
        shown = report["unthreaded"][:row_limit]
        lines.append(f"- unthreaded ({len(report['unthreaded'])}): {', '.join(md(article) for article in shown)}")
    if report["skipped"]:
        lines += ["", "## Skipped inputs", ""]
        lines += [f"- {md(s['input'])}: {md(s['reason'])}" for s in report["skipped"][:row_limit]]
        lines += [f"- {line.strip()}" for line in _more(len(report["skipped"]), row_limit, "skipped inputs")]
    return "\n".join(lines) + "\n"


def _md_evidence(label: str, evidence: dict[str, Any]) -> str:
    a, b = (md(shortened(evidence[side]["text"], 160)) for side in ("a", "b"))
    return f"- {label}: A «{a}» / B «{b}»"


def write_reports(
    report: dict[str, Any], output: str | Path, before_json: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Path]:
    """Write report.md, the report site (`reports.site`: report.html and the pages it links to) and then
    report.json into `output`; returns the paths of the three.

    `before_json`, if given, may complete the report (e.g. the time all this took) just before
    report.json is rendered; the other files are written already.
    """
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"report output {str(folder)!r} is a file; expected a folder (or a path to create one)")
    paths = {name: folder / name for name in ("report.json", "report.md", "report.html")}
    write_atomic(paths["report.md"], to_markdown(report))
    write_site(report, folder)
    if before_json is not None:
        before_json(report)
    write_atomic(paths["report.json"], json_chunks(report))
    return paths


PAGE_WRITERS = 4


def write_site(report: dict[str, Any], folder: Path) -> None:
    """The report site's pages, the index last so that it never links to a page not yet written; pages a
    previous run left in the folder are removed."""
    for stale in (folder / "pairs", folder / "threads"):
        if stale.is_dir():
            for page in stale.glob("*.html"):
                page.unlink()
    index = None
    # creating a file waits on the file system, not on Python: a few writers overlap those waits
    with ThreadPoolExecutor(max_workers=PAGE_WRITERS) as writers:
        pending: deque[Future[None]] = deque()
        for relative, page in site_pages(report):
            if relative == INDEX:
                index = page
                continue
            pending.append(writers.submit(write_atomic, folder / relative, page, False))
            if len(pending) > 4 * PAGE_WRITERS:  # pages in memory stay few
                pending.popleft().result()
        for written in pending:
            written.result()
    assert index is not None
    write_atomic(folder / INDEX, index)


MODEL_KINDS = ("reworded", "translated")
"""Pair kinds a model decided: their passages share meaning, not words."""


def _match_heading(kind: str, match: dict[str, Any]) -> str:
    """How a matched passage was matched: the model's similarity, or the shared words and the vectors' cosine."""
    if kind in MODEL_KINDS:
        return f"aligned passage · model similarity {match['similarity']:.2f}"
    return f"matched passage · overlap {match['overlap']:.2f} · cosine {match['similarity']:.2f}"
