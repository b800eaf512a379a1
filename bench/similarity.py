"""Same-story and different-story pairs of similarity-dev: how often `storythreads run` puts them together.

    python -m bench.similarity ../shared/data/similarity-dev [--encoder lexical|multilingual-e5-small]

One `storythreads run` of all the articles (a new process, a new store). A pair is *together*
when its two articles share a story thread or are reported as a duplicate pair. Pairs annotated
1-2 are the same story, 3-4 different stories (2.5 is left out); rates are given for monolingual
and cross-lingual pairs apart, for all pairs and for each half of them (halves by a hash of the
pair's ids: settings are chosen on one and checked on the other), beside two peers run in this
process, together meaning one cluster: the plain baseline (word TF-IDF, sublinear, max_df 0.5, +
HDBSCAN 3/1, `bench.quality.plain_baseline`) and BERTopic on our story vectors. Writes
bench/results/similarity-<encoder>.json.
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
from typing import Any

from bench.quality import BERTOPIC, PLAIN_BASELINE, bertopic_on_story_vectors, plain_baseline
from bench.run import stage_line, storythreads_run
from corpus.prepare import prepare_articles
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


def peer_rates(labels: dict[str, str], pairs: Sequence[Sequence], seconds: float) -> dict[str, Any]:
    """A peer's clusters (article id -> label) scored like our threads: all pairs, and each half."""
    report = {"threads": _as_threads(labels), "duplicates": []}
    return {
        "seconds": seconds,
        "rates": together_rates(report, pairs),
        "halves": {f"half {h}": together_rates(report, pairs_in_half(pairs, h)) for h in (0, 1)},
    }


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
    peers = {PLAIN_BASELINE: peer_rates(baseline, pairs, baseline_seconds)}
    try:
        started = time.perf_counter()
        topics = bertopic_on_story_vectors(prepare_articles(articles))
        peers[BERTOPIC] = peer_rates(topics, pairs, time.perf_counter() - started)
    except ImportError as error:
        print(f"{BERTOPIC}: not installed ({error})")
    print(f"similarity-dev, {date.today()}: storythreads run --encoder {args.encoder}, {run.seconds:.1f} s wall;")
    print("peers in this process: " + "; ".join(f"{name}, {found['seconds']:.1f} s" for name, found in peers.items()))
    print("pairs | annotated | system | together | half 0 | half 1 | pairs")
    print("--- | --- | --- | --- | --- | --- | ---")
    systems = {f"storythreads run --encoder {args.encoder}": {"rates": rates, "halves": halves}, **peers}
    for key, value in rates.items():
        kind, story = key.split()
        for name, found in systems.items():
            cells = [found["rates"][key], *(found["halves"][h][key] for h in ("half 0", "half 1"))]
            shown = " | ".join(f"{cell['together']:.2f}" for cell in cells)
            print(f"{kind} | {story} story | {name} | {shown} | {value['pairs']}")
    print("stages (s): " + stage_line(run))
    result = {
        "date": date.today().isoformat(),
        "encoder": run.report["run"]["encoder"],
        "model": run.report["run"].get("model"),
        "seconds": run.seconds,
        "stages": run.stages,
        "rates": rates,
        "halves": halves,
        "peers": peers,
    }
    target = args.json or Path(__file__).parent / "results" / f"similarity-{args.encoder}.json"
    target.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"JSON: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
