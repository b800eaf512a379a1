"""Quality benchmark: the pipeline and its peers on labelled corpora, in one table.

    python -m bench.quality reuse ../shared/data/reuse-dev
    python -m bench.quality stories ../shared/data/stories-dev

`reuse` scores (suspicious, source) pairs listed under `duplicates` against the PAN
annotations; `stories` scores story threads against the event labels (which only this
module reads). Our row runs the same stages with the same default settings as
`storythreads run` (lexical encoder), reading through the project's readers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from pathlib import Path
from typing import Any

import numpy as np
from clustering.pipeline import Analysis, PipelineSettings

from bench.scoring import cluster_scores, pair_scores, with_singletons
from clustering import pipeline as stages
from clustering.threads import story_vectors
from corpus.article import Passage, PreparedArticle
from corpus.pan import ReusedPassage, read_pan_annotations
from corpus.prepare import prepare_articles
from corpus.readers import read_articles
from corpus.text import words
from embeddings.encoders import LexicalEncoder
from reports.render import write_reports
from reports.report import RunInfo, build_report


@dataclass
class Row:
    """One system's scores on one corpus."""

    system: str
    scores: dict[str, float | int | str]
    seconds: float
    notes: str = ""


LIBRARIES = {
    "reuse": ("hdbscan", "datasketch", "sklearn.feature_extraction.text"),
    "stories": ("hdbscan", "sklearn.feature_extraction.text", "bertopic", "umap"),
}
"""Libraries each benchmark's rows use, imported (and timed) before any row's clock starts."""


def preload_libraries(names: Sequence[str]) -> dict[str, float]:
    """Import `names` and return the seconds each took (missing ones are left out).

    Every row's time then covers its work on the corpus, not the one-off cost of starting
    its libraries: importing HDBSCAN (scikit-learn, scipy.stats, pandas) takes 1-2 s, more than
    some rows' whole work.
    """
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


STAGE_SECONDS: dict[str, float] = {}
"""Seconds per stage of the last `run_pipeline` call, printed under the table."""


def run_pipeline(paths: Sequence[Path]) -> tuple[list[PreparedArticle], Analysis, Any]:
    """Read, prepare, analyse and write the reports exactly as `storythreads run` does, without Prefect."""
    from datetime import datetime

    STAGE_SECONDS.clear()
    started = lap = time.perf_counter()

    def done(stage: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        STAGE_SECONDS[stage] = now - lap
        lap = now

    settings = PipelineSettings()
    encoder = LexicalEncoder()
    read = read_articles(paths)
    done("read")
    prepared = prepare_articles(read.articles, settings.prepare)
    done("prepare")
    embeddings = stages.embed(prepared, encoder)
    done("embed")
    candidates = stages.index_candidates(prepared, embeddings, encoder)
    done("index")
    pairs = stages.duplicates(prepared, embeddings, candidates, encoder, settings.duplicates)
    done("verify")
    analysis = Analysis(pairs, stages.threads(prepared, pairs, settings.threads))
    done("threads")
    now = datetime.now(UTC)
    info = RunInfo("bench", now, now, encoder.name, "lexical", None, embeddings.count, [str(p) for p in paths])
    report = build_report(info, prepared, analysis, read.skipped)
    with tempfile.TemporaryDirectory() as folder:
        write_reports(report, folder)
    done("report")
    return prepared, analysis, (embeddings, time.perf_counter() - started)


# ---------------------------------------------------------------- reuse


def _pan_pairs(pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
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


def _coverage_of_reuse(analysis: Analysis, truth: list[ReusedPassage]) -> float:
    """Share of reused characters (suspicious side) inside the matched text of the reported pair."""
    spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for pair in analysis.duplicates:
        a_is_suspicious = pair.article_a.startswith("suspicious")
        key = (pair.article_a, pair.article_b) if a_is_suspicious else (pair.article_b, pair.article_a)
        spans[key] = [(m.start_a, m.end_a) if a_is_suspicious else (m.start_b, m.end_b) for m in pair.matches]
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


def _windows(prepared: list[PreparedArticle]) -> tuple[list[Passage], np.ndarray]:
    passages = [p for article in prepared for p in article.passages]
    owners = np.array([i for i, article in enumerate(prepared) for _ in article.passages])
    return passages, owners


def _minhash_signatures(passages: Sequence[Passage]) -> list[Any]:
    from datasketch import MinHash

    def shingles(passage: Passage) -> list[bytes]:
        tokens = words(passage.folded)
        grams = {" ".join(tokens[i : i + 3]) for i in range(max(1, len(tokens) - 2))}
        return [g.encode("utf-8") for g in grams]

    return MinHash.bulk([shingles(p) for p in passages], num_perm=128)


def _minhash_pairs(signatures: list[Any], ids: list[str], owners: np.ndarray, threshold: float) -> set[tuple[str, str]]:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    for index, signature in enumerate(signatures):
        lsh.insert(index, signature)
    found = set()
    for index, signature in enumerate(signatures):
        for other in lsh.query(signature):
            if owners[other] != owners[index]:
                found.add((ids[index], ids[other]))
    return found


def minhash_peer(
    prepared: list[PreparedArticle], truth: list[ReusedPassage]
) -> tuple[Row, float, list[dict[str, Any]]]:
    """datasketch MinHashLSH over the same windows, word 3-gram shingles: best row by F1, its threshold, the sweep."""
    passages, owners = _windows(prepared)
    ids = [p.article_id for p in passages]
    signatures, hashing_seconds = _timed(lambda: _minhash_signatures(passages))
    sweep = []
    best: tuple[float, Row, float] | None = None
    for threshold in MINHASH_THRESHOLDS:
        pairs, search_seconds = _timed(lambda threshold=threshold: _minhash_pairs(signatures, ids, owners, threshold))
        scores = _reuse_scores(_pan_pairs(pairs), truth)
        sweep.append({"threshold": threshold, **scores, "seconds": round(hashing_seconds + search_seconds, 2)})
        row = Row(f"datasketch MinHashLSH (t={threshold})", scores, hashing_seconds + search_seconds)
        if best is None or float(scores["f1"]) > best[0]:
            best = (float(scores["f1"]), row, threshold)
    assert best is not None
    return best[1], best[2], sweep


MINHASH_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def fresh_run_seconds(system: str, path: Path, threshold: float = 0.3) -> float:
    """Wall seconds of one end-to-end run of `system` on the corpus at `path`, in this process.

    Meant for a fresh process: libraries are imported before the clock starts, caches and
    worker processes start cold. "storythreads": read → reports written, as `run_pipeline`;
    "datasketch": read and prepare the same windows, MinHash them and query an LSH at `threshold`.
    """
    preload_libraries(LIBRARIES["reuse"])
    if system == "storythreads":
        return run_pipeline([path])[2][1]
    if system != "datasketch":
        raise ValueError(f"system must be 'storythreads' or 'datasketch', got {system!r}")
    start = time.perf_counter()
    prepared = prepare_articles(read_articles([path]).articles)
    passages, owners = _windows(prepared)
    _minhash_pairs(_minhash_signatures(passages), [p.article_id for p in passages], owners, threshold)
    return time.perf_counter() - start


def _fresh_run_child(system: str, path: Path, threshold: float, sender: Any) -> None:
    sender.send(fresh_run_seconds(system, path, threshold))
    sender.close()


def timed_in_fresh_processes(
    systems: Sequence[str], path: Path, repeats: int, threshold: float
) -> dict[str, list[float]]:
    """`repeats` end-to-end timings of each of `systems`, each in a new process, the systems taking turns.

    Taking turns spreads a slow spell of the machine over all systems; a new process for each
    run gives every run the same cold start.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    seconds: dict[str, list[float]] = {system: [] for system in systems}
    for _ in range(repeats):
        for system in systems:
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_fresh_run_child, args=(system, path, threshold, sender))
            process.start()
            sender.close()
            seconds[system].append(float(receiver.recv()))
            process.join()
    return seconds


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
        passages, owners = _windows(prepared)
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
    return Row("char n-gram TF-IDF, cosine >= 0.5", _reuse_scores(_pan_pairs(pairs), truth), seconds)


def bench_reuse(path: Path, repeats: int = 3) -> tuple[list[Row], dict[str, Any]]:
    """Our pipeline, datasketch and the TF-IDF baseline on a PAN corpus.

    Ours and datasketch are timed `repeats` times each, taking turns, each run in a new
    process (see `timed_in_fresh_processes`); their rows show the median. The TF-IDF baseline
    (minutes) is timed once.
    """
    truth = read_pan_annotations(path)
    prepared, analysis, _ = run_pipeline([path])
    ours = _reuse_scores(_pan_pairs([p.articles for p in analysis.duplicates]), truth)
    ours["reused chars covered"] = _coverage_of_reuse(analysis, truth)
    minhash, threshold, sweep = minhash_peer(prepared, truth)
    timings = timed_in_fresh_processes(["storythreads", "datasketch"], path, repeats, threshold)
    runs = f"median of {repeats} runs in new processes, taking turns"
    rows = [
        Row(
            "storythreads (defaults, lexical)",
            ours,
            statistics.median(timings["storythreads"]),
            f"read → reports written; {runs}",
        )
    ]
    minhash.seconds = statistics.median(timings["datasketch"])
    minhash.notes = f"read, prepare, hash, query; {runs}"
    read_seconds = _timed(lambda: prepare_articles(read_articles([path]).articles))[1]
    tfidf = tfidf_peer(prepared, truth)
    tfidf.seconds += read_seconds
    tfidf.notes = "+ read/prepare; one run"
    details = {
        "minhash_sweep": sweep,
        "read_prepare_seconds": read_seconds,
        "fresh_process_seconds": timings,
        "turn_ratios": turn_ratios(timings["storythreads"], timings["datasketch"]),
    }
    return [*rows, minhash, tfidf], details


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


def bench_stories(path: Path) -> tuple[list[Row], dict[str, Any]]:
    """Our threads, word TF-IDF + HDBSCAN defaults, and BERTopic on our article vectors."""
    gold = _event_labels(path)
    prepared, analysis, (_, seconds) = run_pipeline([path])
    threads = {a: t.id for t in analysis.threading.threads for a in t.articles}
    rows = [_cluster_row("storythreads (defaults, lexical)", with_singletons(threads, gold), gold, seconds)]
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

    def bertopic() -> dict[str, str]:
        from bertopic import BERTopic
        from umap import UMAP

        vectors = story_vectors(prepared, PipelineSettings().threads)
        umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42)
        topics, _ = BERTopic(umap_model=umap).fit_transform(documents, embeddings=vectors)
        return {i: str(topic) for i, topic in zip(ids, topics, strict=True) if topic >= 0}

    try:
        labels, bertopic_seconds = _timed(bertopic)
        rows.append(
            _cluster_row("BERTopic on our story vectors", with_singletons(labels, gold), gold, bertopic_seconds)
        )
    except ImportError as error:
        rows.append(Row("BERTopic on our story vectors", {}, 0.0, f"not installed: {error}"))
    return rows, {}


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
    parser.add_argument("corpus", choices=["reuse", "stories"])
    parser.add_argument("path", type=Path)
    parser.add_argument(
        "--repeats", type=int, default=3, help="reuse: timed runs of ours and datasketch, each in a new process"
    )
    parser.add_argument("--json", type=Path, help="also write the rows (and details) as JSON here")
    args = parser.parse_args(argv)
    if not args.path.is_dir():
        parser.error(f"{args.path} is not a folder")
    imports = preload_libraries(LIBRARIES[args.corpus])
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    rows, details = bench_reuse(args.path, args.repeats) if args.corpus == "reuse" else bench_stories(args.path)
    print_table(args.corpus, args.path, rows)
    print("library imports, before every row's clock (s): " + ", ".join(f"{n} {s:.1f}" for n, s in imports.items()))
    print("storythreads stages (s): " + ", ".join(f"{stage} {sec:.1f}" for stage, sec in STAGE_SECONDS.items()))
    if "turn_ratios" in details:
        ratios = details["turn_ratios"]
        print(
            f"storythreads / datasketch, turn by turn: median {statistics.median(ratios):.2f} "
            f"({', '.join(f'{r:.2f}' for r in ratios)}); faster in {sum(r < 1 for r in ratios)} of {len(ratios)} turns"
        )
    if args.json:
        payload = {
            "corpus": args.corpus,
            "path": str(args.path),
            "date": date.today().isoformat(),
            "rows": [row.__dict__ for row in rows],
            "import_seconds": imports,
            **details,
        }
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
