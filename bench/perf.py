"""Speed, memory and accuracy of a nightly run at scale, beside datasketch MinHashLSH.

    python -m bench.perf --articles 10000
    python -m bench.perf --articles 100000 --no-peer
    python -m bench.perf --encoders            # embedding stage against a bare encode loop

A corpus of `--articles` Arabic articles with planted copies is generated (`bench.corpus`),
plus `--new-share` more for a second night. Each night runs in its own process (so its peak
memory is its own) through the same stage functions `storythreads run` runs, against a
fresh SQLite store: read, store, prepare, embed, index, search, verify, cluster, report.
Then: precision and recall of the stored pairs against the planted truth, the recall of the
approximate index against exact search on a sample of articles, and the peer on the same
windows. Prints a table and writes JSON (`--json`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bench.corpus import PlantedCorpus, generate, source_texts
from bench.scoring import normalise_pair
from embeddings.index import EXACT_LIMIT

T = TypeVar("T")
NIGHT_STAGES = ("read", "store", "prepare", "embed", "index", "search", "verify", "cluster", "report")
DEFAULT_DOCUMENTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reuse-dev"


class Stopwatch:
    """Wall seconds per named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, float] = {}
        """Peak resident memory of the process by the end of each stage."""

    def time(self, stage: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = work()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
        self.peak_mib[stage] = peak_rss_mib()
        logging.getLogger(__name__).info("%s: %.1f s, peak %.0f MiB", stage, self.seconds[stage], self.peak_mib[stage])
        return result


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MemorySampler:
    """Resident memory of this process plus its worker processes, sampled together every `interval` s.

    Workers come and go (the pool is shut down once a night needs it no more), so the
    peak of the whole is sampled rather than added up from each process's own peak.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak_total_mib = 0.0
        self.peak_worker_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def start(self) -> None:
        """Begin sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling (one last sample is taken)."""
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        from corpus.parallel import worker_pids

        workers = [_rss_mib(pid) for pid in worker_pids()]
        self.peak_worker_mib = max([self.peak_worker_mib, *workers])
        self.peak_total_mib = max(self.peak_total_mib, _rss_mib(os.getpid()) + sum(workers))

    def result(self) -> dict[str, float]:
        """The largest worker, and this process with its workers at their largest together (MiB)."""
        together = max(self.peak_total_mib, peak_rss_mib())
        return {"worker_peak_mib": self.peak_worker_mib, "peak_with_workers_mib": together}


def _rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)


# --- one night, in its own process ---------------------------------------------------------


def night(home: Path, articles_file: Path, now: datetime, run_id: str, exact_sample: int) -> dict[str, Any]:
    """One nightly run through the project's stage functions, timed per stage."""
    from clustering import nightly
    from corpus.readers import read_articles
    from embeddings.encoders import LexicalEncoder
    from reports.render import write_reports
    from reports.report import RunInfo, build_night_report
    from store import Store

    clock = Stopwatch()
    memory = MemorySampler()
    memory.start()
    encoder = LexicalEncoder()
    settings = nightly.NightSettings()
    read = clock.time("read", lambda: read_articles([articles_file], max_bytes=1 << 40))
    with Store.open(home, None) as store, store.run_lock(0):
        tonight = clock.time("store", lambda: nightly.take_in(store, read.articles, run_id, now, encoder, settings))
        articles_read = len(read.articles)
        read.articles.clear()  # as the flow does
        prepared = clock.time("prepare", lambda: nightly.prepare_stored(store, tonight.fresh, settings, save=True))
        vectors = clock.time("embed", lambda: nightly.embed_stored(store, prepared, encoder))
        indexes = clock.time("index", lambda: nightly.update_indexes(store, encoder, settings))

        def search() -> nightly.Candidates:
            found = nightly.search_window(store, tonight, vectors, encoder, indexes)
            return nightly.gather_candidates(store, prepared, vectors, found, encoder, settings)

        candidates = clock.time("search", search)
        pairs = clock.time("verify", lambda: nightly.verify_fresh(store, tonight, candidates, encoder, settings))
        update = clock.time("cluster", lambda: nightly.thread_window(store, tonight, prepared, settings))

        def report() -> None:
            finished = datetime.now()
            run = RunInfo(run_id, now, finished, encoder.name, "lexical", None, vectors.embedded, [str(articles_file)])
            built = build_night_report(run, store, tonight, prepared, pairs, update, read.skipped)
            write_reports(built, home / "reports" / run_id)
            store.finish_run(run_id, finished, {"fresh": len(tonight.fresh)})

        clock.time("report", report)
        memory.stop()
        result: dict[str, Any] = {
            "articles_read": articles_read,
            "skipped": len(read.skipped),
            "fresh": len(tonight.fresh),
            "window": len(tonight.window),
            "passages": int(len(vectors.passages)),
            "texts_embedded": vectors.embedded,
            "texts_reused": vectors.reused,
            "seconds": clock.seconds,
            "total_seconds": sum(clock.seconds.values()),
            "peak_rss_mib": peak_rss_mib(),
            **memory.result(),
            "peak_mib_by_stage": clock.peak_mib,
            "pairs": [list(normalise_pair(p.article_a, p.article_b)) for p in store.pairs_among(tonight.window)],
        }
    if exact_sample:
        result["index_check"] = approximate_against_exact(
            candidates, vectors.passages, settings, encoder.candidate_threshold, exact_sample
        )
    return result


def approximate_against_exact(
    candidates: Any, vectors: np.ndarray, settings: Any, threshold: float, sample_size: int
) -> dict[str, Any]:
    """Verified article pairs of a sample of articles: the run's candidates (approximate index) against exact search.

    Exact search takes the sample's passages against every passage of the night; both
    candidate sets are verified over the same articles, so only the search differs.
    """
    import faiss

    from clustering.duplicates import find_duplicates
    from embeddings.index import CandidatePairs, PassageIndex

    articles = candidates.articles
    owners = np.array([i for i, a in enumerate(articles) for _ in a.passages], dtype=np.int64)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    sample = set(random.Random(7).sample(range(len(articles)), min(sample_size, len(articles))))
    in_sample = np.isin(owners, sorted(sample))
    queries = np.flatnonzero(in_sample)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    found: dict[str, set[tuple[int, int]]] = {"exact": set()}
    for query, hits, _ in PassageIndex(vectors.shape[1], exact).within(vectors[queries], threshold):
        row = int(queries[query])
        found["exact"] |= {(min(row, int(h)), max(row, int(h))) for h in hits if owners[h] != owners[row]}
    run = candidates.passages
    touching = in_sample[run.left] | in_sample[run.right]
    found["approximate"] = {(int(a), int(b)) for a, b in zip(run.left[touching], run.right[touching], strict=True)}
    involved = sorted({int(owners[r]) for pair in found["exact"] | found["approximate"] for r in pair} | sample)
    subset = [articles[i] for i in involved]
    keep = np.isin(owners, involved)
    new_row = np.cumsum(keep) - 1
    sampled_ids = {articles[i].article.id for i in sample}
    verified: dict[str, set[tuple[str, str]]] = {}
    for name, rows in found.items():
        ordered = sorted(rows)
        left = np.array([a for a, _ in ordered], dtype=np.int64)
        right = np.array([b for _, b in ordered], dtype=np.int64)
        similarity = np.einsum("ij,ij->i", vectors[left], vectors[right]).astype(np.float32)
        pairs = find_duplicates(
            subset,
            None,
            CandidatePairs(new_row[left], new_row[right], similarity),
            settings=settings.pipeline.duplicates,
        )
        verified[name] = {p.articles for p in pairs if p.article_a in sampled_ids or p.article_b in sampled_ids}
    return {
        "sample_articles": len(sample),
        "index": "IVF" if len(vectors) > EXACT_LIMIT else "flat (exact)",
        "passages": int(len(vectors)),
        "candidate_recall": len(found["exact"] & found["approximate"]) / max(len(found["exact"]), 1),
        "verified_pairs_exact": len(verified["exact"]),
        "verified_recall": len(verified["exact"] & verified["approximate"]) / max(len(verified["exact"]), 1),
    }


# --- the peer --------------------------------------------------------------------------------


def minhash_peer(articles_file: Path, threshold: float) -> dict[str, Any]:
    """datasketch MinHashLSH over the same windows (word 3-gram shingles of our passages)."""
    from datasketch import MinHash, MinHashLSH

    from corpus.prepare import prepare_articles
    from corpus.readers import read_articles
    from corpus.text import words

    clock = Stopwatch()
    read = clock.time("read", lambda: read_articles([articles_file], max_bytes=1 << 40))
    prepared = clock.time("prepare", lambda: prepare_articles(read.articles))
    passages = [p for a in prepared for p in a.passages]

    def shingles() -> list[list[bytes]]:
        found = []
        for passage in passages:
            tokens = words(passage.folded)
            found.append([" ".join(tokens[i : i + 3]).encode() for i in range(max(1, len(tokens) - 2))])
        return found

    signatures = clock.time("hash", lambda: MinHash.bulk(shingles(), num_perm=128))

    def search() -> set[tuple[str, str]]:
        lsh = MinHashLSH(threshold=threshold, num_perm=128)
        with lsh.insertion_session() as session:
            for index, signature in enumerate(signatures):
                session.insert(index, signature, check_duplication=False)
        found = set()
        for index, signature in enumerate(signatures):
            for other in lsh.query(signature):
                if passages[other].article_id != passages[index].article_id:
                    found.add(normalise_pair(passages[index].article_id, passages[other].article_id))
        return found

    pairs = clock.time("search", search)
    return {
        "seconds": clock.seconds,
        "total_seconds": sum(clock.seconds.values()),
        "peak_rss_mib": peak_rss_mib(),
        "pairs": sorted(pairs),
    }


# --- scoring and the table -------------------------------------------------------------------


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


def _subprocess(arguments: list[str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        target = Path(out.name)
    try:
        subprocess.run([sys.executable, "-m", "bench.perf", *arguments, "--result", str(target)], check=True)
        return json.loads(target.read_text(encoding="utf-8"))
    finally:
        target.unlink(missing_ok=True)


def _write_jsonl(path: Path, corpus: PlantedCorpus, ids: set[str]) -> None:
    part = PlantedCorpus([a for a in corpus.articles if a.id in ids], [])
    part.write(path.parent)
    (path.parent / "truth.json").unlink()


def _row(cells: Sequence[Any]) -> str:
    return " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells)


def print_table(result: dict[str, Any]) -> None:
    """The benchmark's result as Markdown tables."""
    first, second = result["night_1"], result.get("night_2")
    print(f"\nperf: {result['articles']:,} articles, {result['date']}, {result['machine']}")
    print(
        _row(
            [
                "run",
                "articles",
                *NIGHT_STAGES,
                "total s",
                "articles/s",
                "peak MiB (+ workers)",
                "precision",
                "recall",
                "f1",
            ]
        )
    )
    print(_row(["---"] * (len(NIGHT_STAGES) + 9)))
    for name, night_result in (("night 1 (full)", first), ("night 2 (+new)", second)):
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
                    *[f"{s.get(stage, 0.0):.1f}" for stage in NIGHT_STAGES],
                    f"{total:.1f}",
                    f"{night_result['fresh'] / total:.0f}",
                    f"{night_result['peak_rss_mib']:.0f} ({night_result.get('peak_with_workers_mib', 0):.0f})",
                    q["precision"],
                    q["recall"],
                    q["f1"],
                ]
            )
        )
    peer = result.get("peer")
    if peer:
        q = peer["quality"]
        cells = [f"datasketch MinHashLSH t={peer['threshold']}", f"{first['fresh']:,}"]
        cells += ["" for _ in NIGHT_STAGES]
        cells += [f"{peer['total_seconds']:.1f}", f"{first['fresh'] / peer['total_seconds']:.0f}"]
        cells += [f"{peer['peak_rss_mib']:.0f}", q["precision"], q["recall"], q["f1"]]
        print(_row(cells))
        print(
            f"\nours against datasketch: {peer['total_seconds'] / first['total_seconds']:.2f}x faster, "
            f"F1 {first['quality']['f1']:.3f} vs {q['f1']:.3f}"
        )
    if second:
        print(
            f"second night (+{second['fresh']:,} articles): {second['total_seconds']:.1f} s = "
            f"{100 * second['total_seconds'] / first['total_seconds']:.1f}% of the full run"
        )
    check = first.get("index_check")
    if check:
        print(
            f"approximate index ({check['index']}, {check['passages']:,} passages) against exact search, "
            f"{check['sample_articles']} sampled articles: candidate recall {check['candidate_recall']:.4f}, "
            f"verified-pair recall {check['verified_recall']:.4f} of {check['verified_pairs_exact']} pairs"
        )


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
    latest = max(a.published_at for a in corpus.articles if a.published_at)
    now = latest + timedelta(hours=1)
    del corpus

    result: dict[str, Any] = {
        "articles": args.articles,
        "new_articles": extra,
        "date": datetime.now().strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "seed": args.seed,
    }
    common = ["--home", str(work / "home")]
    first = _subprocess(
        [
            "night",
            *common,
            "--input",
            str(work / "night1" / "articles.jsonl"),
            "--now",
            now.isoformat(),
            "--run-id",
            "night-1",
            "--exact-sample",
            str(args.exact_sample),
        ]
    )
    first["quality"] = Truth.from_corpus(truth, first_ids).score(first.pop("pairs"))
    result["night_1"] = first
    if not args.no_second_night:
        second = _subprocess(
            [
                "night",
                *common,
                "--input",
                str(work / "night2" / "articles.jsonl"),
                "--now",
                (now + timedelta(days=1)).isoformat(),
                "--run-id",
                "night-2",
                "--exact-sample",
                "0",
            ]
        )
        second["quality"] = Truth.from_corpus(truth, set(ids)).score(second.pop("pairs"))
        result["night_2"] = second
    if not args.no_peer:
        peer = _subprocess(
            ["peer", "--input", str(work / "night1" / "articles.jsonl"), "--threshold", str(args.peer_threshold)]
        )
        peer["quality"] = Truth.from_corpus(truth, first_ids).score(peer.pop("pairs"))
        peer["threshold"] = args.peer_threshold
        result["peer"] = peer
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO if os.environ.get("STORYTHREADS_BENCH_VERBOSE") else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    one = commands.add_parser("night", help="(internal) one timed night in this process")
    one.add_argument("--home", type=Path, required=True)
    one.add_argument("--input", type=Path, required=True)
    one.add_argument("--now", type=datetime.fromisoformat, required=True)
    one.add_argument("--run-id", required=True)
    one.add_argument("--exact-sample", type=int, default=0)
    one.add_argument("--result", type=Path, required=True)
    peer = commands.add_parser("peer", help="(internal) datasketch MinHashLSH in this process")
    peer.add_argument("--input", type=Path, required=True)
    peer.add_argument("--threshold", type=float, required=True)
    peer.add_argument("--result", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=10_000, help="articles of the first (full) night")
    parser.add_argument("--new-share", type=float, default=0.01, help="new articles of the second night, as a share")
    parser.add_argument("--documents", type=Path, default=DEFAULT_DOCUMENTS, help="real text for the generator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer-threshold", type=float, default=0.3, help="MinHashLSH Jaccard threshold")
    parser.add_argument("--exact-sample", type=int, default=500, help="articles checked against exact search")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--no-second-night", action="store_true")
    parser.add_argument("--work", type=Path, help="folder for the corpus and the store (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--json", type=Path, help="write the result here (default bench/results/perf-N.json)")
    parser.add_argument("--encoders", action="store_true", help="measure the embedding stage against bare encode")
    args = parser.parse_args(argv)
    if args.command == "night":
        found = night(args.home, args.input, args.now, args.run_id, args.exact_sample)
        args.result.write_text(json.dumps(found), encoding="utf-8")
        return 0
    if args.command == "peer":
        args.result.write_text(json.dumps(minhash_peer(args.input, args.threshold)), encoding="utf-8")
        return 0
    if args.encoders:
        from bench.encoders import encoder_overhead

        encoder_overhead(args.documents)
        return 0
    result = benchmark(args)
    print_table(result)
    target = args.json or Path(__file__).parent / "results" / f"perf-{args.articles}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"\nJSON: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
