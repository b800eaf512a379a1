"""Same-story and different-story pairs of similarity-dev: how often `storythreads run` puts them together.

    python -m bench.similarity ../shared/data/similarity-dev [--encoder lexical|multilingual-e5-small]

One `storythreads run` of all the articles (a new process, a new store). A pair is *together*
when its two articles share a story thread or are reported as a duplicate pair. Pairs annotated
1-2 are the same story, 3-4 different stories (2.5 is left out); rates are given for monolingual
and cross-lingual pairs apart, for all pairs and for each half of them (halves by a hash of the
pair's ids: settings are chosen on one and checked on the other), beside the plain baseline (word
TF-IDF, sublinear, max_df 0.5, + HDBSCAN 3/1, `bench.quality.plain_baseline`; together = one
cluster). Writes bench/results/similarity-<encoder>.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import zlib
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bench.quality import PLAIN_BASELINE, plain_baseline
from bench.run import stage_line, storythreads_run
from corpus.readers import read_articles
from reports.report import reported_pairs

SAME_AT_MOST = 2.0
DIFFERENT_AT_LEAST = 3.0


def together_rates(report: dict, pairs: Sequence[Sequence]) -> dict[str, dict[str, float | int]]:
    """Share of pairs together, by (monolingual|cross-lingual, same|different)."""
    thread_of = {article: thread["id"] for thread in report["threads"] for article in thread["articles"]}
    duplicates = {frozenset(pair) for pair in reported_pairs(report)}
    counts: dict[str, list[int]] = {}
    for a, b, overall, languages in pairs:
        if SAME_AT_MOST < overall < DIFFERENT_AT_LEAST:
            continue
        first, second = languages.split("-")
        kind = "monolingual" if first == second else "cross-lingual"
        key = f"{kind} {'same' if overall <= SAME_AT_MOST else 'different'}"
        together = (thread_of.get(a) is not None and thread_of.get(a) == thread_of.get(b)) or (
            frozenset((a, b)) in duplicates
        )
        counts.setdefault(key, [0, 0])
        counts[key][0] += together
        counts[key][1] += 1
    return {key: {"together": hits / total, "pairs": total} for key, (hits, total) in sorted(counts.items())}


def _as_threads(labels: dict[str, str]) -> list[dict]:
    """Cluster labels as report threads (articles of each label)."""
    members: dict[str, list[str]] = {}
    for article, label in labels.items():
        members.setdefault(label, []).append(article)
    return [{"id": label, "articles": articles} for label, articles in members.items()]


def pairs_in_half(pairs: Sequence[Sequence], half: int) -> list[Sequence]:
    """The pairs of one half (0 or 1): a fixed split by a hash of the two ids."""
    return [pair for pair in pairs if zlib.crc32(f"{pair[0]}|{pair[1]}".encode()) % 2 == half]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, help="the similarity-dev folder (articles.jsonl, pairs.json)")
    parser.add_argument("--encoder", default="lexical")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    pairs = json.loads((args.corpus / "pairs.json").read_text(encoding="utf-8"))["pairs"]
    with tempfile.TemporaryDirectory(prefix="storythreads-similarity-") as work:
        run = storythreads_run(
            [args.corpus / "articles.jsonl"], Path(work) / "home", Path(work) / "report", "--encoder", args.encoder
        )
    rates = together_rates(run.report, pairs)
    halves = {f"half {half}": together_rates(run.report, pairs_in_half(pairs, half)) for half in (0, 1)}
    articles = read_articles([args.corpus / "articles.jsonl"]).articles
    started = time.perf_counter()
    baseline = plain_baseline([a.id for a in articles], [f"{a.title}\n{a.text}" for a in articles])
    baseline_seconds = time.perf_counter() - started
    baseline_report = {"threads": _as_threads(baseline), "duplicates": []}
    baseline_rates = together_rates(baseline_report, pairs)
    baseline_halves = {f"half {h}": together_rates(baseline_report, pairs_in_half(pairs, h)) for h in (0, 1)}
    print(f"similarity-dev, {date.today()}: storythreads run --encoder {args.encoder}, {run.seconds:.1f} s wall;")
    print(f"the {PLAIN_BASELINE} in this process, {baseline_seconds:.1f} s")
    print("pairs | annotated | together | half 0 | half 1 | plain baseline | its half 0 | its half 1 | pairs")
    print("--- | --- | --- | --- | --- | --- | --- | --- | ---")
    for key, value in rates.items():
        kind, story = key.split()
        parts = " | ".join(f"{halves[h][key]['together']:.2f}" for h in halves)
        peer = " | ".join(f"{found[key]['together']:.2f}" for found in (baseline_rates, *baseline_halves.values()))
        print(f"{kind} | {story} story | {value['together']:.2f} | {parts} | {peer} | {value['pairs']}")
    print("stages (s): " + stage_line(run))
    result = {
        "date": date.today().isoformat(),
        "encoder": run.report["run"]["encoder"],
        "model": run.report["run"].get("model"),
        "seconds": run.seconds,
        "stages": run.stages,
        "rates": rates,
        "halves": halves,
        "plain_baseline": {
            "system": PLAIN_BASELINE,
            "seconds": baseline_seconds,
            "rates": baseline_rates,
            "halves": baseline_halves,
        },
    }
    target = args.json or Path(__file__).parent / "results" / f"similarity-{args.encoder}.json"
    target.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"JSON: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
