"""Quality benchmark: `storythreads run` and its peers on labelled corpora, in one table.

    python -m bench.quality reuse ../shared/data/reuse-dev
    python -m bench.quality stories ../shared/data/stories-dev [--nights 12]
    python -m bench.quality similarity ../shared/data/similarity-dev   # `bench.similarity`
    python -m bench.quality short ../shared/data/reuse-dev [--items 5000]   # tweet-sized items, `bench.short`

Our row is `storythreads run` started as a new process, as a user starts it (default settings,
lexical encoder, a new store): its scores come from the `report.json` that run wrote, its time
is the whole process, and the stage split printed beside it is the run's own (`run.stages`).
`reuse` scores (suspicious, source) pairs against the PAN annotations and times ours beside
datasketch MinHashLSH (`bench.minhash_peer`, also a new process), taking turns; `stories`
scores story threads against the event labels (which only this module reads).
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench import minhash_peer
from bench.run import TimedRun, stage_line, storythreads_run, timed_process
from bench.scoring import cluster_scores, pair_scores, with_singletons
from bench.short import generate_short, score_short, short_texts
from clustering.threads import story_vectors
from corpus.article import PreparedArticle
from corpus.pan import ReusedPassage, read_pan_annotations
from corpus.prepare import prepare_articles
from corpus.readers import read_articles
from night.settings import NightSettings


@dataclass
class Row:
    """One system's scores on one corpus."""

    system: str
    scores: dict[str, float | int | str]
    seconds: float
    notes: str = ""


LIBRARIES = {
    "reuse": ("datasketch", "sklearn.feature_extraction.text"),
    "stories": ("hdbscan", "sklearn.feature_extraction.text", "bertopic", "umap"),
    "short": ("scipy.sparse",),
}
"""Libraries the in-process peer rows use, imported (and timed) before their clocks start."""


def preload_libraries(names: Sequence[str]) -> dict[str, float]:
    """Import `names` and return the seconds each took (missing ones are left out)."""
    seconds = {}
    for name in names:
        try:
            seconds[name] = _timed(lambda name=name: importlib.import_module(name))[1]
        except ImportError:
            continue
    return seconds


def _timed(function: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def run_ours(path: Path, work: Path, name: str = "run", encoder: str = "lexical") -> TimedRun:
    """`storythreads run PATH` with the `encoder` (default: lexical) on a new store under `work`."""
    return storythreads_run([path], work / f"{name}-home", work / f"{name}-report", "--encoder", encoder)


def run_peer(path: Path, work: Path, threshold: float) -> tuple[float, set[tuple[str, str]]]:
    """`python -m bench.minhash_peer PATH` in a new process: its wall seconds and pairs."""
    target = work / "peer-pairs.json"
    done = timed_process(
        [sys.executable, "-m", "bench.minhash_peer", str(path), "--threshold", str(threshold), "--pairs", str(target)]
    )
    if done.returncode != 0:
        raise RuntimeError(f"the datasketch peer exited {done.returncode}:\n{done.output[-4000:]}")
    return done.seconds, {tuple(p) for p in json.loads(target.read_text(encoding="utf-8"))}


# ---------------------------------------------------------------- reuse


def pan_pairs(pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Only (suspicious, source) pairs count: the truth lists no other kind."""
    kept = set()
    for a, b in pairs:
        suspicious, source = (a, b) if a.startswith("suspicious") else (b, a)
        if suspicious.startswith("suspicious") and source.startswith("source"):
            kept.add((suspicious, source))
    return kept


def _reuse_scores(predicted: set[tuple[str, str]], truth: list[ReusedPassage]) -> dict[str, float | int | str]:
    actual = {(t.suspicious, t.source) for t in truth}
    score = pair_scores(predicted, actual)
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for passage in truth:
        total[passage.obfuscation] += 1
        found[passage.obfuscation] += (passage.suspicious, passage.source) in predicted
    result: dict[str, float | int | str] = {
        "precision": score.precision,
        "recall": score.recall,
        "f1": score.f1,
        "pairs": score.predicted,
    }
    for kind in sorted(total):
        result[f"recall {kind}"] = found[kind] / total[kind]
    return result


def _coverage_of_reuse(report: dict[str, Any], truth: list[ReusedPassage]) -> float:
    """Share of reused characters (suspicious side) inside the matched text of the reported pair."""
    spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for pair in report["duplicates"]:
        a, b = pair["articles"]
        side = "a" if a.startswith("suspicious") else "b"
        key = (a, b) if side == "a" else (b, a)
        spans[key] = [(m[side]["start"], m[side]["end"]) for m in pair["matches"]]
    covered = total = 0
    for passage in truth:
        length = passage.suspicious_end - passage.suspicious_start
        total += length
        mask = np.zeros(length, dtype=bool)
        for start, end in spans.get((passage.suspicious, passage.source), []):
            lo, hi = max(start, passage.suspicious_start), min(end, passage.suspicious_end)
            if hi > lo:
                mask[lo - passage.suspicious_start : hi - passage.suspicious_start] = True
        covered += int(mask.sum())
    return covered / total if total else 0.0


def minhash_sweep(prepared: list[PreparedArticle], truth: list[ReusedPassage]) -> tuple[float, list[dict[str, Any]]]:
    """datasketch MinHashLSH at each threshold of `MINHASH_THRESHOLDS`, in this process: the best threshold
    by F1 (the one the timed runs use) and the sweep."""
    passages = minhash_peer.passages_of(prepared)
    hashed = minhash_peer.signatures(passages)
    sweep = []
    for threshold in MINHASH_THRESHOLDS:
        scores = _reuse_scores(pan_pairs(minhash_peer.article_pairs(passages, hashed, threshold)), truth)
        sweep.append({"threshold": threshold, **scores})
    best = max(sweep, key=lambda row: float(row["f1"]))
    return float(best["threshold"]), sweep


MINHASH_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def turn_ratios(ours: Sequence[float], theirs: Sequence[float]) -> list[float]:
    """Our time over datasketch's in each turn: the two ran back to back, so a slow spell of the machine
    weighs on both, and the ratio says more than two medians of timings taken minutes apart."""
    if len(ours) != len(theirs):
        raise ValueError(f"got {len(ours)} timings of ours and {len(theirs)} of datasketch; expected one each per turn")
    return [round(mine / other, 3) for mine, other in zip(ours, theirs, strict=True)]


def tfidf_peer(prepared: list[PreparedArticle], truth: list[ReusedPassage]) -> Row:
    """Plain baseline: character n-gram TF-IDF of the same windows, exact cosine >= 0.5."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    def search() -> set[tuple[str, str]]:
        passages = minhash_peer.passages_of(prepared)
        owners = np.array([i for i, article in enumerate(prepared) for _ in article.passages])
        matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(
            [p.folded for p in passages]
        )
        found = set()
        transposed = matrix.T.tocsc()
        for start in range(0, matrix.shape[0], 2000):
            block = (matrix[start : start + 2000] @ transposed).tocoo()
            keep = (block.data >= 0.5) & (owners[block.row + start] != owners[block.col])
            for row, column in zip(block.row[keep] + start, block.col[keep], strict=True):
                found.add((passages[row].article_id, passages[column].article_id))
        return found

    pairs, seconds = _timed(search)
    return Row("char n-gram TF-IDF, cosine >= 0.5", _reuse_scores(pan_pairs(pairs), truth), seconds)


def bench_reuse(
    path: Path, repeats: int = 3, tfidf: bool = False, encoder: str = "lexical"
) -> tuple[list[Row], dict[str, Any]]:
    """`storythreads run`, datasketch and the TF-IDF baseline on a PAN corpus.

    Ours and datasketch run `repeats` times each as new processes, taking turns (a slow spell
    of the machine weighs on both); their rows show the median and ours is scored from the
    first run's `report.json`. With another `encoder`, a run with it takes its turn too (a row
    of its own, timed against the lexical run's). With `tfidf`, the TF-IDF baseline (minutes)
    runs once, in this process.
    """
    truth = read_pan_annotations(path)
    prepared = prepare_articles(read_articles([path]).articles)
    threshold, sweep = minhash_sweep(prepared, truth)
    ours_runs: list[TimedRun] = []
    model_runs: list[TimedRun] = []
    peer_seconds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="storythreads-quality-") as folder:
        work = Path(folder)
        for turn in range(repeats):
            ours_runs.append(run_ours(path, work, f"turn{turn}"))
            if encoder != "lexical":
                model_runs.append(run_ours(path, work, f"model{turn}", encoder))
            seconds, peer_pairs = run_peer(path, work, threshold)
            peer_seconds.append(seconds)
    first = ours_runs[0]
    ours = _reuse_scores(pan_pairs(first.pairs), truth)
    ours["reused chars covered"] = _coverage_of_reuse(first.report, truth)
    runs = f"median of {repeats} runs as new processes, taking turns"
    ours_seconds = [run.seconds for run in ours_runs]
    rows = [
        Row("storythreads run (defaults, lexical)", ours, statistics.median(ours_seconds), f"whole process; {runs}"),
        Row(
            f"datasketch MinHashLSH (t={threshold})",
            _reuse_scores(pan_pairs(peer_pairs), truth),
            statistics.median(peer_seconds),
            f"read, prepare, hash, query; {runs}",
        ),
    ]
    if model_runs:
        scores = _reuse_scores(pan_pairs(model_runs[0].pairs), truth)
        scores["reused chars covered"] = _coverage_of_reuse(model_runs[0].report, truth)
        scores["model"] = str(model_runs[0].report["run"].get("model"))
        model_seconds = [run.seconds for run in model_runs]
        rows.insert(1, Row(f"storythreads run (--encoder {encoder})", scores, statistics.median(model_seconds), runs))
    if tfidf:
        read_seconds = _timed(lambda: prepare_articles(read_articles([path]).articles))[1]
        baseline = tfidf_peer(prepared, truth)
        baseline.seconds += read_seconds
        baseline.notes = "+ read/prepare; one run, in this process"
        rows.append(baseline)
    details = {
        "minhash_sweep": sweep,
        "seconds": {"storythreads": ours_seconds, "datasketch": peer_seconds},
        "turn_ratios": turn_ratios(ours_seconds, peer_seconds),
        "stages": [run.stages for run in ours_runs],
        "peak_mib": [run.peak_mib for run in ours_runs],
        "stage_lines": [stage_line(run) for run in ours_runs],
    }
    if model_runs:
        details["model"] = {
            "encoder": encoder,
            "seconds": [run.seconds for run in model_runs],
            "over_lexical": turn_ratios([run.seconds for run in model_runs], ours_seconds),
            "stages": [run.stages for run in model_runs],
            "stage_lines": [stage_line(run) for run in model_runs],
        }
    return rows, details


# ---------------------------------------------------------------- stories


def _event_labels(path: Path) -> dict[str, str]:
    labels = {}
    for file in sorted(path.glob("*.json")):
        record = json.loads(file.read_text(encoding="utf-8"))
        labels[file.stem] = str(record["newsCluster"]["EventId"])
    return labels


def _cluster_row(system: str, labels: dict[str, str], gold: dict[str, str], seconds: float, notes: str = "") -> Row:
    score = cluster_scores(labels, gold)
    return Row(
        system,
        {
            "bcubed precision": score.precision,
            "bcubed recall": score.recall,
            "bcubed f1": score.f1,
            "adjusted rand": score.adjusted_rand,
            "threads": score.clusters,
        },
        seconds,
        notes,
    )


PLAIN_BASELINE = "plain baseline: word TF-IDF (sublinear, max_df 0.5) + HDBSCAN 3/1"


def plain_baseline(ids: Sequence[str], documents: Sequence[str]) -> dict[str, str]:
    """The plain peer threads are held against: word TF-IDF (sublinear TF, terms in at most half the documents)
    and HDBSCAN (min cluster size 3, min samples 1) on cosine distances; article id -> cluster, noise left out.

    (Cosine distances on the unit TF-IDF rows order every pair as Euclidean ones do, so HDBSCAN finds the
    same clusters, without a dense matrix of the whole vocabulary.)
    """
    import hdbscan
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_distances

    matrix = TfidfVectorizer(sublinear_tf=True, max_df=0.5).fit_transform(documents)
    distances = cosine_distances(matrix).astype(np.float64)
    labels = hdbscan.HDBSCAN(min_cluster_size=3, min_samples=1, metric="precomputed").fit_predict(distances)
    return {i: str(label) for i, label in zip(ids, labels, strict=True) if label >= 0}


BERTOPIC = "BERTopic on our story vectors"


def bertopic_on_story_vectors(prepared: Sequence[PreparedArticle]) -> dict[str, str]:
    """BERTopic (UMAP to 5 dimensions, its HDBSCAN) on our story vectors; article id -> topic, outliers left
    out. Raises ImportError when BERTopic is not installed."""
    from bertopic import BERTopic
    from umap import UMAP

    documents = [a.article.title + "\n" + a.article.text for a in prepared]
    vectors = story_vectors(prepared, NightSettings().threads)
    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42)
    topics, _ = BERTopic(umap_model=umap).fit_transform(documents, embeddings=vectors)
    return {a.article.id: str(topic) for a, topic in zip(prepared, topics, strict=True) if topic >= 0}


THREAD_CHANGES = ("new_threads", "grown_threads", "merges", "splits")


def run_nights(path: Path, work: Path, nights: int, encoder: str = "lexical") -> tuple[TimedRun, list[dict[str, Any]]]:
    """The corpus's articles in `nights` nights of about equal size, oldest published first: one
    `storythreads run` each on one store, as a nightly job runs. Returns the last run and, per night,
    its seconds and thread changes (`tonight` in its report)."""
    files = sorted(
        path.glob("*.json"), key=lambda f: (json.loads(f.read_text(encoding="utf-8"))["date_publish"] or "", f.name)
    )
    size = -(-len(files) // nights)
    runs: list[dict[str, Any]] = []
    last: TimedRun | None = None
    for night in range(nights):
        folder = work / f"night-{night + 1}"
        folder.mkdir(parents=True)
        for file in files[night * size : (night + 1) * size]:
            (folder / file.name).write_bytes(file.read_bytes())
        last = storythreads_run([folder], work / "nights-home", work / "nights-report", "--encoder", encoder)
        tonight = last.report["tonight"]
        runs.append({"seconds": last.seconds, **{change: len(tonight[change]) for change in THREAD_CHANGES}})
    assert last is not None
    return last, runs


def bench_stories(path: Path, encoder: str = "lexical", nights: int = 0) -> tuple[list[Row], dict[str, Any]]:
    """Our threads, word TF-IDF + HDBSCAN defaults, the plain baseline, and BERTopic on our article vectors.

    Our B-cubed F1 is also given for each half of the events (halves by a hash of the event id), and,
    with `nights`, for the same articles taken in over that many nights (`run_nights`).
    """
    gold = _event_labels(path)
    nightly: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="storythreads-quality-") as folder:
        ours = run_ours(path, Path(folder), encoder=encoder)
        if nights > 1:
            last, nightly = run_nights(path, Path(folder), nights, encoder)
    predicted = with_singletons(ours.threads, gold)
    halves = {}
    for half in (0, 1):
        members = {a for a, event in gold.items() if zlib.crc32(event.encode()) % 2 == half}
        score = cluster_scores({a: predicted[a] for a in members}, {a: gold[a] for a in members})
        halves[f"half {half}"] = {"bcubed f1": score.f1, "articles": len(members)}
    rows = [
        _cluster_row(
            f"storythreads run (defaults, {encoder})",
            predicted,
            gold,
            ours.seconds,
            "whole process; B3 F1 by halves of the events: "
            + ", ".join(f"{value['bcubed f1']:.3f}" for value in halves.values()),
        )
    ]
    if nightly:
        changes = Counter({change: sum(night[change] for night in nightly[1:]) for change in THREAD_CHANGES})
        rows.append(
            _cluster_row(
                f"storythreads run (defaults, {encoder}), {nights} nights",
                with_singletons(last.threads, gold),
                gold,
                sum(night["seconds"] for night in nightly),
                "nights 2 on: " + ", ".join(f"{count} {change}" for change, count in changes.items()),
            )
        )
    prepared = prepare_articles(read_articles([path]).articles)
    documents = [a.article.title + "\n" + a.article.text for a in prepared]
    ids = [a.article.id for a in prepared]

    def tfidf_hdbscan() -> dict[str, str]:
        import hdbscan
        from sklearn.feature_extraction.text import TfidfVectorizer

        matrix = TfidfVectorizer().fit_transform(documents).toarray()
        labels = hdbscan.HDBSCAN().fit_predict(matrix)
        return {i: str(label) for i, label in zip(ids, labels, strict=True) if label >= 0}

    labels, tfidf_seconds = _timed(tfidf_hdbscan)
    rows.append(_cluster_row("word TF-IDF + HDBSCAN defaults", with_singletons(labels, gold), gold, tfidf_seconds))
    labels, plain_seconds = _timed(lambda: plain_baseline(ids, documents))
    rows.append(_cluster_row(PLAIN_BASELINE, with_singletons(labels, gold), gold, plain_seconds))

    try:
        labels, bertopic_seconds = _timed(lambda: bertopic_on_story_vectors(prepared))
        rows.append(_cluster_row(BERTOPIC, with_singletons(labels, gold), gold, bertopic_seconds))
    except ImportError as error:
        rows.append(Row(BERTOPIC, {}, 0.0, f"not installed: {error}"))
    return rows, {
        "stages": [ours.stages],
        "stage_lines": [stage_line(ours)],
        "peak_mib": [ours.peak_mib],
        "halves": halves,
        "nights": nightly,
    }


# ---------------------------------------------------------------- short


def bench_short(path: Path, items: int, seed: int, encoder: str = "lexical") -> tuple[list[Row], dict[str, Any]]:
    """`storythreads run` on tweet-sized items with planted near-copies and half-overlaps (`bench.short`)."""
    corpus = generate_short(short_texts(path), items, seed)
    with tempfile.TemporaryDirectory(prefix="storythreads-short-") as folder:
        inputs = corpus.write(Path(folder) / "items")
        ours = storythreads_run([inputs], Path(folder) / "home", Path(folder) / "report", "--encoder", encoder)
    scores = score_short(ours.report, corpus)
    examples = {key: scores.pop(key) for key in list(scores) if key.endswith("(first 5)")}
    row = Row(f"storythreads run (defaults, {encoder})", scores, ours.seconds, "whole process")
    return [row], {"stages": [ours.stages], "stage_lines": [stage_line(ours)], "peak_mib": [ours.peak_mib], **examples}


# ---------------------------------------------------------------- output


def print_table(corpus: str, path: Path, rows: list[Row]) -> None:
    """A plain-text table: one row per system, one column per score."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row.scores if c not in columns]
    header = ["system", *columns, "seconds", "notes"]
    body = [
        [row.system, *(_cell(row.scores.get(c, "")) for c in columns), f"{row.seconds:.1f}", row.notes] for row in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    print(f"quality on {corpus} ({path}), {date.today().isoformat()}")
    for line in [header, ["-" * w for w in widths], *body]:
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))


def _cell(value: float | int | str) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", choices=["reuse", "stories", "similarity", "short"])
    parser.add_argument("path", type=Path)
    parser.add_argument(
        "--repeats", type=int, default=3, help="reuse: timed runs of ours and datasketch, each in a new process"
    )
    parser.add_argument("--tfidf", action="store_true", help="reuse: also the TF-IDF baseline (about 5 minutes)")
    parser.add_argument(
        "--encoder",
        default="lexical",
        help="our run's encoder (multilingual-e5-small, ...); reuse: beside the lexical one",
    )
    parser.add_argument(
        "--nights", type=int, default=0, help="stories: also take the articles in over N nights, oldest first"
    )
    parser.add_argument("--items", type=int, default=5000, help="short: tweet-sized items to generate")
    parser.add_argument("--seed", type=int, default=0, help="short: the generator's seed")
    parser.add_argument("--json", type=Path, help="write the rows (and details) as JSON here (default bench/results/)")
    args = parser.parse_args(argv)
    if not args.path.is_dir():
        parser.error(f"{args.path} is not a folder")
    if args.corpus == "similarity":
        from bench.similarity import main as similarity

        similarity([str(args.path), "--encoder", args.encoder, *(["--json", str(args.json)] if args.json else [])])
        return
    imports = preload_libraries(LIBRARIES[args.corpus])
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.corpus == "reuse":
        rows, details = bench_reuse(args.path, args.repeats, args.tfidf, args.encoder)
    elif args.corpus == "short":
        rows, details = bench_short(args.path, args.items, args.seed, args.encoder)
    else:
        rows, details = bench_stories(args.path, args.encoder, args.nights)
    print_table(args.corpus, args.path, rows)
    print(
        "library imports of the in-process peers, before their clocks (s): "
        + ", ".join(f"{n} {s:.1f}" for n, s in imports.items())
    )
    for line in details.get("stage_lines", []):
        print(f"storythreads run, stages (s): {line}")
    for key, examples in details.items():
        if key.endswith("(first 5)"):
            print(f"{key}: {examples}")
    if "model" in details:
        model = details["model"]
        print(f"--encoder {model['encoder']}, stages (s): {model['stage_lines'][0]}")
        print(
            f"--encoder {model['encoder']} / lexical, turn by turn: "
            f"median {statistics.median(model['over_lexical']):.2f} "
            f"({', '.join(f'{r:.2f}' for r in model['over_lexical'])})"
        )
    if "turn_ratios" in details:
        ratios = details["turn_ratios"]
        print(
            f"storythreads run / datasketch, both whole new processes, turn by turn: median "
            f"{statistics.median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)})"
        )
    suffix = "" if args.encoder == "lexical" else f"-{args.encoder}"
    target = args.json or Path(__file__).parent / "results" / f"quality-{args.corpus}{suffix}.json"
    payload = {
        "corpus": args.corpus,
        "path": str(args.path),
        "date": date.today().isoformat(),
        "rows": [row.__dict__ for row in rows],
        "import_seconds": imports,
        **details,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"JSON: {target}")


if __name__ == "__main__":
    main()
