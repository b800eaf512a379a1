"""The report site of a large night: page sizes, links from the index, and the index in headless Chromium.

    python -m bench.site --articles 10000

A corpus of `--articles` generated Arabic articles with planted copies (`bench.corpus`) is given to
`storythreads run` as one JSON Lines file, in a new process, as a user runs it. Then its report folder
is measured: every page's size (each must stay under 1 MB), whether following the links from
`report.html` reaches the page of every new pair and every thread, and how long Chromium takes to
render the index with 2 s of virtual time, and what writing the reports cost in memory (the run's own
`run.memory_mib`: the process's size as the stage started and its peak during it, and, traced with
`STORYTHREADS_TRACE_MEMORY`, the most the stage itself allocated: the resident size hides what a stage
allocates in memory earlier stages freed). Prints a table and
writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.corpus import add_night_options, write_night
from bench.run import storythreads_run
from night.memory import TRACE_VARIABLE
from reports.site import page_name
from tests.browser import dump_dom

RESULTS = Path(__file__).parent / "results"
PAGE_LIMIT = 1_000_000
_HREF = re.compile(r'href="([^"]+)"')


def reached_from_index(folder: Path) -> set[str]:
    """The pages (relative to `folder`) that links from report.html lead to, report.html included."""
    root = folder.resolve()
    reached: set[Path] = set()
    waiting = [root / "report.html"]
    while waiting:
        page = waiting.pop().resolve()
        if page in reached or not page.is_file():
            continue
        reached.add(page)
        for href in _HREF.findall(page.read_text(encoding="utf-8")):
            if not href.startswith(("http://", "https://")):
                waiting.append(page.parent / href)
    return {str(page.relative_to(root)) for page in reached}


def measure(folder: Path, report: dict[str, Any], chromium: str) -> dict[str, Any]:
    """Sizes, reachability and the index's render time of the site in `folder`."""
    pages = sorted(folder.rglob("*.html"))
    sizes = {str(page.relative_to(folder)): page.stat().st_size for page in pages}
    reached = reached_from_index(folder)
    new_pairs = [p for p in report["duplicates"] if p.get("new")]
    pair_pages = {f"pairs/{page_name(p['articles'][0] + chr(0) + p['articles'][1])}.html" for p in new_pairs}
    thread_pages = {f"threads/{page_name(t['id'])}.html" for t in report["threads"]}
    started = time.perf_counter()
    dom = dump_dom(chromium, (folder / "report.html").resolve().as_uri(), budget_ms=2000)
    render_seconds = time.perf_counter() - started
    biggest = max(sizes, key=sizes.__getitem__)
    return {
        "pages": len(pages),
        "largest_page": biggest,
        "largest_page_bytes": sizes[biggest],
        "pages_over_1mb": sorted(name for name, size in sizes.items() if size >= PAGE_LIMIT),
        "site_bytes": sum(sizes.values()),
        "report_json_bytes": (folder / "report.json").stat().st_size,
        "report_md_bytes": (folder / "report.md").stat().st_size,
        "new_pairs": len(new_pairs),
        "new_pairs_reached": len(pair_pages & reached),
        "threads": len(report["threads"]),
        "threads_reached": len(thread_pages & reached),
        "index_rendered": "Who copied whom tonight" in dom and dom.rstrip().endswith("</html>"),
        "chromium_wall_s": round(render_seconds, 2),
    }


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise SystemExit("chromium is not installed (Debian: apt-get install chromium)")
    return found


def _start_to_peak(sizes: dict[str, float | None] | None) -> str:
    if not sizes or sizes.get("start") is None or sizes.get("peak") is None:
        return "not measured"
    return f"{sizes['start']:,.0f} → {sizes['peak']:,.0f} (+{sizes['peak'] - sizes['start']:,.0f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_night_options(parser)
    args = parser.parse_args(argv)
    chromium = _chromium()
    work = Path(tempfile.mkdtemp(prefix=f"storythreads-site-{args.articles}-"))
    try:
        write_night(work / "night", args.documents, args.articles, args.seed)
        traced = {TRACE_VARIABLE: "write reports"}
        run = storythreads_run([work / "night"], work / "home", work / "out", "--encoder", "lexical", env=traced)
        result = {
            "articles": args.articles,
            "date": datetime.now().strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
            "command": "storythreads run FOLDER --home HOME --output OUT --encoder lexical (a new process)",
            "run_seconds": round(run.seconds, 1),
            "write_reports_seconds": run.stages.get("write reports"),
            "peak_mib": round(run.peak_mib),
            "write_reports_mib": run.report["run"].get("memory_mib", {}).get("write reports"),
            **measure(work / "out", run.report, chromium),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        ("articles", result["articles"]),
        ("storythreads run, wall s", result["run_seconds"]),
        ("  of which writing the reports, s", result["write_reports_seconds"]),
        ("peak memory of the run, MiB", result["peak_mib"]),
        ("writing the reports: resident MiB at start → peak", _start_to_peak(result["write_reports_mib"])),
        ("writing the reports: MiB it allocated at most", (result["write_reports_mib"] or {}).get("allocated_peak")),
        ("pages", result["pages"]),
        ("largest page, bytes", f"{result['largest_page_bytes']:,} ({result['largest_page']})"),
        ("pages of 1 MB or more", len(result["pages_over_1mb"])),
        ("new pairs reached from the index", f"{result['new_pairs_reached']} of {result['new_pairs']}"),
        ("threads reached from the index", f"{result['threads_reached']} of {result['threads']}"),
        ("index rendered in 2 s of virtual time", result["index_rendered"]),
        ("report.json / report.md, bytes", f"{result['report_json_bytes']:,} / {result['report_md_bytes']:,}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"site-{args.articles}.json"
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: {target}")
    ok = not result["pages_over_1mb"] and result["index_rendered"]
    ok = ok and result["new_pairs_reached"] == result["new_pairs"] and result["threads_reached"] == result["threads"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
