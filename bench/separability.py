"""What a similarity threshold alone can separate: the ceilings behind the similarity-dev and reuse-dev targets.

    python -m bench.separability similarity ../shared/data/similarity-dev [--encoder multilingual-e5-small]
    python -m bench.separability reuse ../shared/data/reuse-dev [--encoder multilingual-e5-small]

`similarity`: one `storythreads run` of the corpus (a new process, a new store); the story vectors
that run clustered are read back from its store and set beside two peers computed here from each
article's title and text: word TF-IDF (sublinear, max_df 0.5) and character 3-5-gram TF-IDF. For
each representation and kind of pair (monolingual, cross-lingual): ROC AUC of the pair's cosine,
and the share of same-story pairs (annotated 1-2) at or above the lowest cosine that at most
`--different` of the different-story pairs (3-4) reach; last, the run's story vectors with the
duplicate pairs it reported counted as together whatever their cosine, as `bench.similarity` counts
them. Threads join articles through their neighbours, but a
representation that keeps 0.64 of same-story pairs where 0.08 of different-story pairs pass
cannot be clustered to 0.85 at 0.08.

`reuse`: the reused (suspicious, source) pairs a `storythreads run --encoder MODEL` of the corpus misses, and where
their passages stand among the candidate passage pairs the lexical check leaves unverified (found
here with the stage functions, `find_candidates` and `verify_chunk`, on an index built in this process
with the run's settings rather than read from the run's FAISS files; an inverted-file search may
propose a few candidates more or fewer than the run's did): the model's
cosine of the missed pairs' candidate passages against a `--sample` of unverified candidates
between articles that share nothing. A model can only find the missed pairs at a similarity few
unrelated candidates reach.

Writes bench/results/separability-<command>-<encoder>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench.quality import pan_pairs
from bench.run import storythreads_run
from bench.similarity import DIFFERENT_AT_LEAST, SAME_AT_MOST
from clustering.duplicates import DuplicateSettings, find_candidates, verify_chunk
from clustering.verify import PassageTerms
from corpus.pan import ReusedPassage, read_pan_annotations
from corpus.prepare import prepare_articles
from corpus.readers import read_articles
from embeddings.choose import choose_encoder
from embeddings.encoders import LexicalEncoder
from night.settings import NightSettings
from reports.report import reported_pairs
from store import Store

RESULTS = Path(__file__).parent / "results"


def pair_cosines(
    vectors: dict[str, np.ndarray], pairs: Sequence[Sequence], reported: set[frozenset[str]] | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Cosines of the annotated pairs, by kind (monolingual|cross-lingual) and story (same|different).

    A pair in `reported` (a run's duplicate pairs) counts as cosine 1: it is together whatever the threshold.
    """
    found: dict[str, dict[str, list[float]]] = {}
    for a, b, overall, languages in pairs:
        if SAME_AT_MOST < overall < DIFFERENT_AT_LEAST or str(a) not in vectors or str(b) not in vectors:
            continue
        first, second = languages.split("-")
        kind = "monolingual" if first == second else "cross-lingual"
        story = "same" if overall <= SAME_AT_MOST else "different"
        left, right = vectors[str(a)], vectors[str(b)]
        cosine = float(left @ right / max(np.linalg.norm(left) * np.linalg.norm(right), 1e-12))
        if reported is not None and frozenset((str(a), str(b))) in reported:
            cosine = 1.0
        found.setdefault(kind, {}).setdefault(story, []).append(cosine)
    return {kind: {story: np.array(values) for story, values in by.items()} for kind, by in found.items()}


def separation(same: np.ndarray, different: np.ndarray, rates: Sequence[float]) -> dict[str, float]:
    """ROC AUC, and the share of `same` above the cosine each rate of `different` exceeds."""
    from sklearn.metrics import roc_auc_score

    labels = np.r_[np.ones(len(same)), np.zeros(len(different))]
    result = {"roc auc": round(float(roc_auc_score(labels, np.r_[same, different])), 3)}
    for rate in rates:
        # the lowest cut that lets at most `rate` of the different-story pairs above it
        cuts = np.unique(np.r_[same, different, np.inf])
        allowed = [cut for cut in cuts if (different >= cut).mean() <= rate]
        cut = float(min(allowed))
        result[f"same-story at different {rate:.2f}"] = round(float((same >= cut).mean()), 3)
        result[f"cosine at different {rate:.2f}"] = round(cut, 3)
    return result


def run_story_vectors(corpus: Path, encoder: str, work: Path) -> tuple[dict[str, np.ndarray], str, dict[str, Any]]:
    """The story vectors a `storythreads run` of `corpus` clustered (read back from its store), their name and
    the run's report."""
    run = storythreads_run([corpus / "articles.jsonl"], work / "home", work / "report", "--encoder", encoder)
    threads = NightSettings().threads
    name = threads.vectoriser().name
    model = run.report["run"].get("model")
    if model:
        name = f"{name}+{model}-w{threads.model.weight:g}"
    ids = [article["id"] for article in run.report["articles"]]
    store = Store.open(work / "home")
    try:
        stored = store.article_vectors(name, ids)
    finally:
        store.close()
    if not stored:
        raise RuntimeError(f"the run's store holds no story vectors named {name!r}")
    return {article: vector.astype(np.float32) for article, vector in stored.items()}, name, run.report


def peer_vectors(corpus: Path) -> dict[str, dict[str, np.ndarray]]:
    """Word and character n-gram TF-IDF of each article's title and text."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    articles = read_articles([corpus / "articles.jsonl"]).articles
    documents = [f"{a.title}\n{a.text}" for a in articles]
    peers = {
        "word TF-IDF (sublinear, max_df 0.5)": TfidfVectorizer(sublinear_tf=True, max_df=0.5),
        "character 3-5-gram TF-IDF": TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(3, 5)),
    }
    found = {}
    for name, vectoriser in peers.items():
        matrix = vectoriser.fit_transform(documents).tocsr()
        found[name] = {a.id: matrix[i].toarray().ravel() for i, a in enumerate(articles)}
    return found


def bench_similarity(corpus: Path, encoder: str, rates: Sequence[float]) -> dict[str, Any]:
    pairs = json.loads((corpus / "pairs.json").read_text(encoding="utf-8"))["pairs"]
    with tempfile.TemporaryDirectory(prefix="storythreads-separability-") as work:
        ours, name, report = run_story_vectors(corpus, encoder, Path(work))
    reported = {frozenset(pair) for pair in reported_pairs(report)}
    representations = {f"storythreads run story vectors ({name})": ours, **peer_vectors(corpus)}
    table = {}
    for representation, vectors in [
        *representations.items(),
        (f"the same, or a duplicate pair the run reported ({len(reported)})", ours),
    ]:
        cosines = pair_cosines(vectors, pairs, reported if representation.startswith("the same") else None)
        table[representation] = {
            kind: separation(by["same"], by["different"], rates) for kind, by in sorted(cosines.items())
        }
    print(f"similarity-dev, {date.today()}: pairwise cosine alone")
    columns = [f"same-story at different {rate:.2f}" for rate in rates]
    print("representation | pairs | ROC AUC | " + " | ".join(columns))
    print(" | ".join(["---"] * (3 + len(columns))))
    for representation, kinds in table.items():
        for kind, found in kinds.items():
            cells = " | ".join(f"{found[column]:.3f}" for column in columns)
            print(f"{representation} | {kind} | {found['roc auc']:.3f} | {cells}")
    return {"corpus": str(corpus), "representations": table}


def unverified_candidates(corpus: Path) -> tuple[list[Any], list[str], np.ndarray]:
    """The prepared articles, each passage's text, and the (left, right) passage rows the lexical check rejects."""
    articles = read_articles([corpus], max_article_bytes=1 << 40).articles
    prepared = prepare_articles(articles)
    texts = [a.article.text[p.start : p.end] for a in prepared for p in a.passages]
    lexical = LexicalEncoder()
    candidates = find_candidates(prepared, lexical.encode(texts), lexical.candidate_threshold)
    settings = DuplicateSettings()
    terms = PassageTerms(prepared, settings.neighbour_windows)
    rank = {article: i for i, article in enumerate(sorted(a.article.id for a in prepared))}
    owner_rank = np.repeat([rank[a.article.id] for a in prepared], [len(a.passages) for a in prepared])
    swap = owner_rank[candidates.left] > owner_rank[candidates.right]
    lefts = np.where(swap, candidates.right, candidates.left)
    rights = np.where(swap, candidates.left, candidates.right)
    matched = {(m[0], m[1]) for m in verify_chunk((settings, lefts, rights, candidates.similarity), terms)}
    rows = np.stack([lefts, rights], axis=1)
    keep = np.array([(left, right) not in matched for left, right in rows.tolist()], dtype=bool)
    return prepared, texts, rows[keep]


def bench_reuse(corpus: Path, encoder: str, sample: int, seed: int) -> dict[str, Any]:
    model = choose_encoder(encoder).model
    if model is None:
        raise SystemExit(f"--encoder {encoder!r} gives no model")
    truth = read_pan_annotations(corpus)
    actual = {(t.suspicious, t.source) for t in truth}
    with tempfile.TemporaryDirectory(prefix="storythreads-separability-") as work:
        run = storythreads_run([corpus], Path(work) / "home", Path(work) / "report", "--encoder", encoder)
    missed = actual - pan_pairs(run.pairs)
    prepared, texts, rows = unverified_candidates(corpus)
    owners = [a.article.id for a in prepared for _ in a.passages]
    spans = [(p.start, p.end) for a in prepared for p in a.passages]
    related = actual | {(b, a) for a, b in actual}

    missed_passages: dict[tuple[str, str], list[ReusedPassage]] = {}
    for passage in truth:
        if (passage.suspicious, passage.source) in missed:
            missed_passages.setdefault((passage.suspicious, passage.source), []).append(passage)

    def in_missed(left: int, right: int) -> tuple[str, str] | None:
        for first, second in ((left, right), (right, left)):
            key = (owners[first], owners[second])
            (s_start, s_end), (o_start, o_end) = spans[first], spans[second]
            for passage in missed_passages.get(key, []):
                on_suspicious = s_start < passage.suspicious_end and passage.suspicious_start < s_end
                if on_suspicious and o_start < passage.source_end and passage.source_start < o_end:
                    return key
        return None

    positives = [(row, key) for row in rows.tolist() if (key := in_missed(*row))]
    unrelated = [row for row in rows.tolist() if (owners[row[0]], owners[row[1]]) not in related]
    negatives = random.Random(seed).sample(unrelated, min(sample, len(unrelated)))
    wanted = sorted({i for row in [r for r, _ in positives] + negatives for i in row})
    vectors = dict(zip(wanted, model.encode([texts[i] for i in wanted]), strict=True))

    def cosine(row: Sequence[int]) -> float:
        return float(vectors[row[0]] @ vectors[row[1]])

    negative = np.array([cosine(row) for row in negatives])
    found = []
    for row, key in positives:
        value = cosine(row)
        above = round(float((negative >= value).mean()), 4)
        found.append({"pair": list(key), "cosine": round(value, 3), "unrelated above": above})
    found.sort(key=lambda f: -f["cosine"])
    percentiles = np.percentile(negative, [50, 90, 99, 99.9]).round(3).tolist()
    result = {
        "corpus": str(corpus),
        "model": model.name,
        "missed pairs": sorted(map(list, missed)),
        "missed pairs with unverified candidate passages": sorted({tuple(f["pair"]) for f in found}),
        "unverified candidate passage pairs": len(rows),
        "of them between unrelated articles": len(unrelated),
        "sampled": len(negatives),
        "unrelated cosine percentiles (50, 90, 99, 99.9)": percentiles,
        "missed passages": found,
    }
    print(f"reuse-dev, {date.today()}: {len(missed)} reused pairs missed by storythreads run --encoder {encoder}")
    print(f"{len(rows)} unverified candidate passage pairs, {len(unrelated)} between unrelated articles; {model.name}:")
    print(f"unrelated candidates (a sample of {len(negatives)}), cosine percentiles 50/90/99/99.9: {percentiles}")
    print("missed pair | cosine of its candidate passages | share of unrelated candidates at or above")
    print("--- | --- | ---")
    for passage in found:
        print(f"{' / '.join(passage['pair'])} | {passage['cosine']:.3f} | {passage['unrelated above']:.4f}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("similarity", "reuse"))
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--encoder", default=None, help="similarity: lexical (default) or a model; reuse: the model")
    parser.add_argument("--different", type=float, nargs="+", default=[0.08, 0.10])
    parser.add_argument("--sample", type=int, default=1500, help="reuse: unrelated candidate pairs the model reads")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.command == "similarity":
        encoder = args.encoder or "lexical"
        result = bench_similarity(args.corpus, encoder, args.different)
    else:
        encoder = args.encoder or "multilingual-e5-small"
        result = bench_reuse(args.corpus, encoder, args.sample, args.seed)
    result = {"date": date.today().isoformat(), "encoder": encoder, **result}
    target = args.json or RESULTS / f"separability-{args.command}-{encoder}.json"
    target.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"JSON: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
