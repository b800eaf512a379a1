"""Inputs of any size: a night's feed larger than the article limit through `storythreads run`, and the
memory of reading a 1 GB JSON Lines file.

    python -m bench.inputs                    # both
    python -m bench.inputs --gigabytes 0.2    # a smaller file for the second

1. A 21 MB JSON Lines feed of generated articles with one 30 MB record and one malformed line is given
   to `storythreads run` (a new process, default settings): the run must read every other article and
   skip exactly those two, naming file and line.
2. A JSON Lines file of `--gigabytes` is read by the run's read stage (`night.stages.read`: the same
   `read_articles` call, its articles kept) in a new process; its peak resident memory is compared with
   the memory the read articles hold afterwards (the run's working set for them). Taking a whole night
   of that size through every stage would need several times this machine's memory, so only the read
   stage runs here.
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.corpus import DEFAULT_DOCUMENTS, generate, source_texts
from bench.run import storythreads_run

RESULTS = Path(__file__).parent / "results"
MIB = 1024 * 1024


def write_feed(path: Path, target_bytes: int, seed: int = 0, oversized_at: int | None = None) -> int:
    """Generated articles as JSON Lines until `target_bytes`; with `oversized_at`, that line is one 30 MB
    record and the next a malformed one. Returns the number of lines written."""
    corpus = generate(source_texts(DEFAULT_DOCUMENTS), 2_000, seed)
    records = [
        json.dumps({"id": a.id, "title": a.title, "text": a.text, "source": a.source}, ensure_ascii=False) + "\n"
        for a in corpus.articles
    ]
    written = lines = 0
    with path.open("w", encoding="utf-8") as out:
        while written < target_bytes:
            lines += 1
            if lines == oversized_at:
                line = json.dumps({"id": "huge", "text": "كلمة " * (30 * MIB // 9)}, ensure_ascii=False) + "\n"
            elif oversized_at is not None and lines == oversized_at + 1:
                line = '{"id": "broken", "text": "no closing quote}\n'
            else:
                record = records[lines % len(records)]
                line = record.replace('"id": "', f'"id": "{lines}-', 1)
            out.write(line)
            written += len(line.encode("utf-8"))
    return lines


def feed_run(work: Path) -> dict[str, Any]:
    """Part 1: the 21 MB feed with a 30 MB record and a malformed line, through `storythreads run`."""
    feed = work / "feed" / "night.jsonl"
    feed.parent.mkdir(parents=True)
    lines = write_feed(feed, 51 * MIB, oversized_at=500)
    run = storythreads_run([feed], work / "home", work / "out", "--encoder", "lexical")
    skipped = run.report["skipped"]
    return {
        "file_bytes": feed.stat().st_size,
        "lines": lines,
        "articles_read": run.report["run"]["articles_read"],
        "skipped": [{"input": Path(s["input"]).name, "reason": s["reason"]} for s in skipped],
        "skipped_exactly_the_two": [Path(s["input"]).name for s in skipped] == ["night.jsonl:500", "night.jsonl:501"],
        "run_seconds": round(run.seconds, 1),
        "peak_mib": round(run.peak_mib),
    }


def read_memory(work: Path, gigabytes: float) -> dict[str, Any]:
    """Part 2: the read stage on a file of `gigabytes`, in a new process."""
    big = work / "big.jsonl"
    write_feed(big, int(gigabytes * 1024 * MIB))
    done = subprocess.run(
        [sys.executable, "-m", "bench.inputs", "--read-stage", str(big)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    measured["file_bytes"] = big.stat().st_size
    measured["overhead_mib"] = measured["peak_mib"] - measured["after_mib"]
    return measured


def read_stage(path: Path) -> None:
    """In the new process: the run's read stage on `path`, and its memory before, at peak and after."""
    from night.stages import Night, read

    before = _rss_mib()
    night = Night.asked(store=None, paths=[str(path)], run_id="bench", started=datetime.now())  # type: ignore[arg-type]
    read(night)
    assert night.read is not None
    print(
        json.dumps(
            {
                "articles": len(night.read.articles),
                "skipped": len(night.read.skipped),
                "before_mib": round(before),
                "after_mib": round(_rss_mib()),
                "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
    )


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gigabytes", type=float, default=1.0, help="size of the file the read stage reads")
    parser.add_argument("--skip-feed-run", action="store_true")
    parser.add_argument("--read-stage", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.read_stage:
        read_stage(args.read_stage)
        return 0
    work = Path(tempfile.mkdtemp(prefix="storythreads-inputs-"))
    result: dict[str, Any] = {
        "date": datetime.now().strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
    }
    try:
        if not args.skip_feed_run:
            result["feed_run"] = feed_run(work)
        result["read_stage"] = read_memory(work, args.gigabytes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if "feed_run" in result:
        feed = result["feed_run"]
        print(f"feed of {feed['file_bytes'] / MIB:.0f} MiB, {feed['lines']} lines, through storythreads run:")
        print(f"  articles read {feed['articles_read']}, skipped {[s['input'] for s in feed['skipped']]}")
        print(f"  wall {feed['run_seconds']} s, peak {feed['peak_mib']} MiB")
    stage = result["read_stage"]
    print(f"read stage on {stage['file_bytes'] / MIB:,.0f} MiB of JSON Lines: {stage['articles']:,} articles")
    print(f"  memory before {stage['before_mib']} MiB, after (articles kept) {stage['after_mib']} MiB, ", end="")
    print(f"peak {stage['peak_mib']} MiB: {stage['overhead_mib']} MiB above the articles kept")
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / "inputs.json"
    target.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
