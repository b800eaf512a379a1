"""Speed, memory and accuracy of `storythreads run` at scale, beside datasketch MinHashLSH.

    python -m bench.perf --articles 10000
    python -m bench.perf --articles 100000 --no-peer
    python -m bench.perf --articles 1000 --encoder multilingual-e5-small   # a night with the model
    python -m bench.perf --encoders            # embedding stage against a bare encode loop
    python -m bench.perf --storm               # a syndication storm against 10k distinct articles

A corpus of `--articles` Arabic articles with planted copies is generated (`bench.corpus`),
plus `--new-share` more for a second night, each night as one JSON Lines file. Each night is
`storythreads run FILE` started as a new process on one store, as a user runs it: its wall time
is the whole process, its peak memory that of the process with every process it started, and
the stage split is the run's own (`run.stages` in its `report.json`). The peer
(`bench.minhash_peer`) runs as a new process on the first night's file. Precision and recall
come from the pairs in each run's `report.json` (with those its duplicate groups imply), against
the planted truth. Prints a table and writes JSON.

`--storm` runs a night of `STORM_COPIES` copies of the five seed articles under new ids plus
`STORM_DISTINCT` generated articles, beside a night of `--articles` distinct generated articles on a
new store, and checks that every copy is in its seed's duplicate group.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.corpus import DEFAULT_DOCUMENTS, PlantedCorpus, generate, source_texts
from bench.run import TimedRun, storythreads_run, timed_process
from bench.scoring import normalise_pair


def night(
    night_file: Path,
    home: Path,
    output: Path,
    workers: int | None = None,
    encoder: str = "lexical",
    with_pairs: bool = True,
) -> dict[str, Any]:
    """One `storythreads run` of `night_file` on the store in `home`: time, memory, stages, pairs (unless
    not `with_pairs`) and duplicate groups."""
    options = ["--encoder", encoder] + ([] if workers is None else ["--workers", str(workers)])
    run: TimedRun = storythreads_run([night_file], home, output, *options)
    info = run.report["run"]
    return {
        "groups": [group["articles"] for group in run.report.get("groups", [])],
        "fresh": info["articles_analysed"],
        "window": info["articles_in_window"],
        "passages": info["passages"],
        "texts_embedded": info["vectors_embedded"],
        "texts_reused": info["vectors_reused"],
        "seconds": run.stages,
        "total_seconds": run.seconds,
        "outside_stages_seconds": run.seconds - sum(run.stages.values()),
        "peak_with_workers_mib": run.peak_mib,
        "time_v_max_resident_mib": run.max_resident_mib,
        "report_largest_stage_peak_mib": run.largest_stage_peak_mib,
        "report_with_helpers_mib": run.reported_with_helpers_mib,
        "pairs": [list(normalise_pair(a, b)) for a, b in run.pairs] if with_pairs else [],
        "thread_changes": {
            change: len(run.report["tonight"][change])
            for change in ("new_threads", "grown_threads", "merges", "splits")
        },
    }


RESULTS = Path(__file__).parent / "results"

PEERS = ("datasketch", "rensa")
"""The MinHash LSH peers (`bench.minhash_peer`): datasketch (Python) and rensa (Rust), the same windows and shingles."""


def peer(night_file: Path, threshold: float, work: Path, library: str = "datasketch") -> dict[str, Any]:
    """A MinHash LSH peer over the same windows (`bench.minhash_peer`), as a new process."""
    target = work / f"peer-pairs-{library}.json"
    done = timed_process(
        [
            sys.executable,
            "-m",
            "bench.minhash_peer",
            str(night_file),
            "--threshold",
            str(threshold),
            "--pairs",
            str(target),
            "--library",
            library,
        ]
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {library} peer exited {done.returncode}:\n{done.output[-4000:]}")
    return {
        "total_seconds": done.seconds,
        "peak_with_workers_mib": done.peak_mib,
        "pairs": json.loads(target.read_text(encoding="utf-8")),
    }


def median_turn(turns: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The turn with the median wall time (the lower middle one of an even count), with every turn's time."""
    ordered = sorted(turns, key=lambda turn: turn["total_seconds"])
    return {**ordered[(len(ordered) - 1) // 2], "turn_seconds": [turn["total_seconds"] for turn in turns]}


def speed_ratios(ours: Sequence[float], theirs: Sequence[float]) -> dict[str, Any]:
    """Their wall time over ours, turn by turn (each pair ran back to back), and the median of those."""
    if len(ours) != len(theirs) or not ours:
        raise ValueError(f"expected one timing of each per turn, got {len(ours)} of ours and {len(theirs)} of theirs")
    ratios = [t / o for o, t in zip(ours, theirs, strict=True)]
    return {"per_turn": ratios, "median": statistics.median(ratios)}


@dataclass
class Truth:
    """Planted pairs, and pairs of two copies of one original (their overlap is unknown: not scored)."""

    planted: set[tuple[str, str]]
    siblings: set[tuple[str, str]]

    @classmethod
    def from_corpus(cls, truth: Sequence[Sequence[str]], ids: set[str]) -> Truth:
        planted = {normalise_pair(c, o) for c, o, _ in truth if c in ids and o in ids}
        copies: dict[str, list[str]] = {}
        for copy, original, _ in truth:
            if copy in ids:
                copies.setdefault(original, []).append(copy)
        siblings = {normalise_pair(a, b) for group in copies.values() for a in group for b in group if a != b}
        return cls(planted, siblings)

    def score(self, pairs: Sequence[Sequence[str]]) -> dict[str, float]:
        predicted = {normalise_pair(a, b) for a, b in pairs} - self.siblings
        hits = len(predicted & self.planted)
        precision = hits / len(predicted) if predicted else 0.0
        recall = hits / len(self.planted) if self.planted else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "predicted": len(predicted)}


def _write_jsonl(path: Path, corpus: PlantedCorpus, ids: set[str]) -> None:
    part = PlantedCorpus([a for a in corpus.articles if a.id in ids], [])
    part.write(path.parent)
    (path.parent / "truth.json").unlink()


def _row(cells: Sequence[Any]) -> str:
    return " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells)


def memory_line(name: str, night_result: dict[str, Any]) -> str:
    """Three readings of one run's peak memory: `/usr/bin/time -v`, its own report, the sampled process tree."""
    timed, reported = night_result.get("time_v_max_resident_mib"), night_result.get("report_largest_stage_peak_mib")
    agreement = f" ({100 * (reported - timed) / timed:+.1f} %)" if timed and reported else ""
    tree, helpers = night_result["peak_with_workers_mib"], night_result.get("report_with_helpers_mib")
    tree_agreement = f" ({100 * (helpers - tree) / tree:+.1f} %)" if tree and helpers else ""
    return (
        f"memory, {name}: /usr/bin/time -v max resident {timed} MiB; the report's largest stage peak "
        f"{reported} MiB{agreement}; process tree sampled by the bench {tree:.0f} MiB, by the run "
        f"{helpers} MiB{tree_agreement}"
    )


def print_table(result: dict[str, Any]) -> None:
    """The benchmark's result as Markdown tables."""
    first, second = result["night_1"], result.get("night_2")
    stages = list(first["seconds"])
    print(f"\nperf: {result['articles']:,} articles, {result['date']}, {result['machine']}")
    print(f"each night: {result['command']}")
    header = ["run", "articles", *stages, "outside stages", "wall s", "articles/s", "peak MiB", "precision", "recall"]
    print(_row([*header, "f1"]))
    print(_row(["---"] * (len(header) + 1)))
    by_workers = [(f"night 1, --workers {n}", r) for n, r in result.get("workers", {}).items()]
    for name, night_result in (("night 1 (full)", first), ("night 2 (+new)", second), *by_workers):
        if not night_result:
            continue
        s = night_result["seconds"]
        total = night_result["total_seconds"]
        q = night_result["quality"]
        print(
            _row(
                [
                    name,
                    f"{night_result['fresh']:,}",
                    *[f"{s.get(stage, 0.0):.1f}" for stage in stages],
                    f"{night_result['outside_stages_seconds']:.1f}",
                    f"{total:.1f}",
                    f"{night_result['fresh'] / total:.0f}",
                    f"{night_result['peak_with_workers_mib']:.0f}",
                    q["precision"],
                    q["recall"],
                    q["f1"],
                ]
            )
        )
    for library, found in result.get("peers", {}).items():
        q = found["quality"]
        name = f"{library} MinHashLSH t={found['threshold']}"
        cells = [name, f"{first['fresh']:,}", *["" for _ in stages], ""]
        cells += [f"{found['total_seconds']:.1f}", f"{first['fresh'] / found['total_seconds']:.0f}"]
        cells += [f"{found['peak_with_workers_mib']:.0f}", q["precision"], q["recall"], q["f1"]]
        print(_row(cells))
    for library, speed in result.get("speed", {}).items():
        turns = ", ".join(f"{ratio:.2f}" for ratio in speed["per_turn"])
        print(
            f"ours against {library} (both as new processes, taking turns): median {speed['median']:.2f}x as fast "
            f"(turns: {turns}); F1 {first['quality']['f1']:.3f} vs {result['peers'][library]['quality']['f1']:.3f}"
        )
    if "1" in result.get("workers", {}) and "2" in result.get("workers", {}):
        one, two = result["workers"]["1"]["total_seconds"], result["workers"]["2"]["total_seconds"]
        print(f"--workers 2 against --workers 1: {one / two:.2f}x as fast ({one:.1f} s -> {two:.1f} s)")
    for name, night_result in (("night 1", first), ("night 2", second)):
        if night_result:
            print(memory_line(name, night_result))
    if second:
        print(
            f"second night (+{second['fresh']:,} articles analysed): {second['total_seconds']:.1f} s = "
            f"{100 * second['total_seconds'] / first['total_seconds']:.1f}% of the full run"
        )
        changes = second.get("thread_changes", {})
        print("second night's threads: " + ", ".join(f"{count:,} {change}" for change, count in changes.items()))


def stage_growth(result: dict[str, Any], smaller: dict[str, Any]) -> dict[str, float]:
    """Each stage's first-night seconds (and the whole run's) over a smaller run's: how it grows with the night."""
    mine, theirs = result["night_1"], smaller["night_1"]
    growth = {
        stage: mine["seconds"][stage] / theirs["seconds"][stage]
        for stage in mine["seconds"]
        if theirs["seconds"].get(stage, 0.0) >= 0.05
    }
    growth["whole run"] = mine["total_seconds"] / theirs["total_seconds"]
    return growth


def print_growth(result: dict[str, Any], against: Path | None) -> None:
    """The growth of each stage from the smaller run saved at `against` (when it is one) to `result`."""
    if against is None or not against.is_file():
        return
    smaller = json.loads(against.read_text(encoding="utf-8"))
    if smaller.get("articles", 0) >= result["articles"]:
        return
    print(
        f"\ngrowth from {smaller['articles']:,} articles ({smaller['date']}) to {result['articles']:,} "
        f"({result['articles'] / smaller['articles']:.0f}x the articles), first night:"
    )
    for stage, factor in stage_growth(result, smaller).items():
        print(f"  {stage}: {factor:.1f}x")


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Generate the corpus, run both nights and the peer, score everything."""
    work = args.work or Path(tempfile.mkdtemp(prefix=f"storythreads-perf-{args.articles}-"))
    if (work / "home").exists():
        shutil.rmtree(work / "home")
    extra = max(1, round(args.articles * args.new_share))
    logging.info("generating %d + %d articles", args.articles, extra)
    corpus = generate(source_texts(args.documents), args.articles + extra, args.seed)
    ids = [a.id for a in corpus.articles]
    tonight = set(random.Random(args.seed).sample(ids, extra))
    first_ids, second_ids = set(ids) - tonight, tonight
    _write_jsonl(work / "night1" / "articles.jsonl", corpus, first_ids)
    _write_jsonl(work / "night2" / "articles.jsonl", corpus, second_ids)
    truth = [list(t) for t in corpus.truth]
    del corpus

    result: dict[str, Any] = {
        "articles": args.articles,
        "new_articles": extra,
        "date": datetime.now().strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "seed": args.seed,
        "command": f"storythreads run FILE --home HOME --output OUT --encoder {args.encoder} (a new process per "
        "night, both nights into one OUT as a nightly job writes)",
    }
    scoring = Truth.from_corpus(truth, first_ids)
    ours_turns: list[dict[str, Any]] = []
    peer_turns: dict[str, list[dict[str, Any]]] = {library: [] for library in ([] if args.no_peer else PEERS)}
    for _ in range(args.repeats):
        # taking turns, each on a new store: a slow spell of the machine falls on ours and the peers alike
        for stale in ("home", "report"):
            shutil.rmtree(work / stale, ignore_errors=True)
        first = night(work / "night1" / "articles.jsonl", work / "home", work / "report", encoder=args.encoder)
        first["quality"] = scoring.score(first.pop("pairs"))
        ours_turns.append(first)
        for library, turns in peer_turns.items():
            found = peer(work / "night1" / "articles.jsonl", args.peer_threshold, work, library)
            found["quality"] = scoring.score(found.pop("pairs"))
            found["threshold"] = args.peer_threshold
            turns.append(found)
    result["night_1"] = median_turn(ours_turns)
    result["peers"] = {library: median_turn(turns) for library, turns in peer_turns.items()}
    result["speed"] = {
        library: speed_ratios([t["total_seconds"] for t in ours_turns], [t["total_seconds"] for t in turns])
        for library, turns in peer_turns.items()
    }
    if "datasketch" in result["peers"]:
        result["peer"] = result["peers"]["datasketch"]
    if not args.no_second_night:
        second = night(work / "night2" / "articles.jsonl", work / "home", work / "report", encoder=args.encoder)
        second["quality"] = Truth.from_corpus(truth, set(ids)).score(second.pop("pairs"))
        result["night_2"] = second
    for workers in args.workers:
        # the first night again on a new store, on a local cluster of this many worker processes
        shutil.rmtree(work / f"home-{workers}", ignore_errors=True)
        alone = night(
            work / "night1" / "articles.jsonl", work / f"home-{workers}", work / f"report-w{workers}", workers
        )
        alone["quality"] = Truth.from_corpus(truth, first_ids).score(alone.pop("pairs"))
        result.setdefault("workers", {})[str(workers)] = alone
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


STORM_COPIES = 10_000
STORM_DISTINCT = 1_000
SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def storm(args: argparse.Namespace) -> dict[str, Any]:
    """A syndication storm (`args.storm_copies` copies of the seeds plus `args.storm_distinct` distinct
    articles) against a night of `args.articles` distinct articles, each a first night on a new store."""
    from corpus.readers import read_articles

    work = args.work or Path(tempfile.mkdtemp(prefix="storythreads-storm-"))
    for old in ("home-distinct", "home-storm"):
        shutil.rmtree(work / old, ignore_errors=True)
    texts = source_texts(args.documents)
    distinct = generate(texts, args.articles, args.seed)
    distinct.truth.clear()
    distinct.write(work / "distinct")
    seeds = read_articles([SEEDS]).articles
    start = datetime(2026, 11, 1, 6)
    copies = [
        replace(
            seeds[i % len(seeds)],
            id=f"storm-{i:05d}",
            published_at=start + timedelta(seconds=10 * i),
            source=f"outlet-{i % 300}",
        )
        for i in range(args.storm_copies)
    ]
    others = generate(texts, args.storm_distinct, args.seed + 1)
    PlantedCorpus(copies + others.articles, []).write(work / "storm")
    del distinct, others

    result: dict[str, Any] = {
        "articles": args.articles,
        "storm_copies": args.storm_copies,
        "storm_distinct": args.storm_distinct,
        "date": datetime.now().strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "command": "storythreads run FILE --home HOME --output OUT --encoder lexical (a new process, a new store)",
    }
    plain = night(work / "distinct" / "articles.jsonl", work / "home-distinct", work / "report-distinct")
    plain.pop("pairs")
    result["distinct"] = plain
    stormy = night(work / "storm" / "articles.jsonl", work / "home-storm", work / "report-storm", with_pairs=False)
    stormy.pop("pairs")
    copies_of = {seed.id: {c.id for c in copies if c.text == seed.text} for seed in seeds}
    groups = [set(group) for group in stormy["groups"]]
    stormy["copies_grouped"] = {
        seed: max((len(wanted & g) for g in groups), default=0) for seed, wanted in copies_of.items()
    }
    stormy["every_copy_in_its_group"] = all(any(wanted <= g for g in groups) for wanted in copies_of.values())
    stormy["groups"] = [len(group) for group in groups]
    result["storm"] = stormy
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


def print_storm(result: dict[str, Any]) -> None:
    """The storm benchmark as a Markdown table."""
    plain, stormy = result["distinct"], result["storm"]
    print(
        f"\nstorm: {result['storm_copies']:,} copies of the 5 seeds + {result['storm_distinct']:,} distinct "
        f"articles against {result['articles']:,} distinct, {result['date']}, {result['machine']}"
    )
    print(f"each night: {result['command']}")
    print(_row(["run", "articles analysed", "wall s", "peak MiB", "duplicate groups (sizes)"]))
    print(_row(["---"] * 5))
    for name, found in (("distinct", plain), ("storm", stormy)):
        sizes = found["groups"] if name == "storm" else [len(g) for g in found["groups"]]
        shown = (
            f"{len(sizes)} ({', '.join(map(str, sorted(sizes, reverse=True)[:6]))}{', …' if len(sizes) > 6 else ''})"
        )
        print(
            _row(
                [
                    name,
                    f"{found['fresh']:,}",
                    f"{found['total_seconds']:.1f}",
                    f"{found['peak_with_workers_mib']:.0f}",
                    shown,
                ]
            )
        )
    ratio = stormy["total_seconds"] / plain["total_seconds"]
    print(
        f"\nstorm / distinct time: {ratio:.2f} (target <= 2); storm peak {stormy['peak_with_workers_mib']:.0f} MiB "
        f"(target <= 2048); every copy in its seed's group: {stormy['every_copy_in_its_group']} "
        f"({stormy['copies_grouped']})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO if os.environ.get("STORYTHREADS_BENCH_VERBOSE") else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10_000, help="articles of the first (full) night")
    parser.add_argument("--new-share", type=float, default=0.01, help="new articles of the second night, as a share")
    parser.add_argument("--documents", type=Path, default=DEFAULT_DOCUMENTS, help="real text for the generator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer-threshold", type=float, default=0.3, help="MinHashLSH Jaccard threshold")
    parser.add_argument("--no-peer", action="store_true", help="run neither peer (datasketch, rensa)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="first nights of ours and of each peer, taking turns (median reported)"
    )
    parser.add_argument("--no-second-night", action="store_true")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="*",
        default=[],
        help="also run the first night with `--workers N` for each N given, e.g. --workers 1 2",
    )
    parser.add_argument("--work", type=Path, help="folder for the corpus and the store (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--encoder", default="lexical", help="the runs' encoder (multilingual-e5-small: the model)")
    parser.add_argument("--json", type=Path, help="write the result here (default bench/results/perf-N.json)")
    parser.add_argument("--encoders", action="store_true", help="measure the embedding stage against bare encode")
    parser.add_argument("--storm", action="store_true", help="a syndication storm against --articles distinct")
    parser.add_argument("--storm-copies", type=int, default=STORM_COPIES, help="copies of the seeds in the storm")
    parser.add_argument("--storm-distinct", type=int, default=STORM_DISTINCT, help="distinct articles in the storm")
    parser.add_argument(
        "--against",
        type=Path,
        default=RESULTS / "perf-10000.json",
        help="a smaller run's result: each stage's growth to this run is printed (default: the 10k result)",
    )
    parser.add_argument("--show", type=Path, help="print a saved result (and its growth) instead of running")
    args = parser.parse_args(argv)
    if args.show:
        shown = json.loads(args.show.read_text(encoding="utf-8"))
        print_table(shown)
        print_growth(shown, args.against)
        return 0
    if args.storm:
        result = storm(args)
        print_storm(result)
        target = args.json or Path(__file__).parent / "results" / "perf-storm.json"
        target.write_text(json.dumps(result, indent=1), encoding="utf-8")
        print(f"\nJSON: {target}")
        return 0
    if args.encoders:
        from bench.encoders import encoder_overhead

        encoder_overhead(args.documents)
        return 0
    result = benchmark(args)
    print_table(result)
    print_growth(result, args.against)
    suffix = "" if args.encoder == "lexical" else f"-{args.encoder}"
    target = args.json or Path(__file__).parent / "results" / f"perf-{args.articles}{suffix}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"\nJSON: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
