"""Candidate search, measured alone: today's dense FAISS search against FAISS's binary and fast-scan indexes.

    python -m bench.candidates ../shared/data/reuse-dev        # a PAN corpus and its annotations
    python -m bench.candidates --articles 10000                 # the perf bench's generated corpus

Reads and prepares the corpus once (`corpus.prepare`, as a run does), then finds candidate passage pairs
with each method below and scores them by what verification can only keep, never add: the share of the
truly reused article pairs (PAN annotations, or the generator's planted copies) with at least one
candidate passage pair. Each method's seconds are its own (building its index, searching, rescoring);
the lexical vectors' encoding, which only the dense methods need, is its own row.

- dense IVF, float16 (today): `IndexIVFScalarQuantizer` as `embeddings.index` builds it, searched list by list
  at the encoder's candidate thresholds as a run does, and by FAISS's own range search;
- dense IVF, 4-bit PQ fast scan: the same lists and probes over `IndexIVFPQFastScan` codes, searched at
  thresholds `RESCORE_MARGIN` lower and each hit rescored with the exact cosine;
- MinHash LSH on term ids in `IndexBinaryMultiHash`: each passage's set of term ids (the kept tokenisation)
  hashed into bands of rows (datasketch's 37 × 3 for Jaccard 0.3, and others), a band's key 32 bits of the
  code, a hash table per band: passages that share a band are candidates;
- SimHash in `IndexBinaryIVF`: sign bits of random projections of the lexical vectors, searched within
  the Hamming radius that holds 99 % of pairs at the candidate threshold, hits rescored exactly.

Writes `bench/results/candidates-<corpus>.json`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numba import njit

from bench.corpus import DEFAULT_DOCUMENTS, generate, source_texts
from corpus.pan import read_pan_annotations
from corpus.prepare import prepare_articles
from corpus.readers import read_articles
from embeddings.encoders import LexicalEncoder, short_candidate_threshold
from embeddings.index import EXACT_LIMIT, PassageIndex, lists_for, probes_for, range_search_by_list, searched_by_list
from embeddings.ngram_kernel import mix

RESULTS = Path(__file__).parent / "results"
RESCORE_MARGIN = 0.05
"""How far below the candidate threshold an approximate index searches before the exact rescoring."""
BAND_BITS = 32
"""Bits of a band's key in the binary code (one hash table per band)."""


@dataclass(frozen=True)
class Passages:
    """The corpus's passages: owner article, term ids (flat, `bounds`), vectors' search threshold."""

    owners: np.ndarray
    term_ids: np.ndarray
    bounds: np.ndarray
    thresholds: np.ndarray
    texts: list[str]


@dataclass(frozen=True)
class Found:
    left: np.ndarray
    right: np.ndarray
    seconds: float


def load(path: Path | None, articles: int, seed: int) -> tuple[str, Passages, set[tuple[str, str]]]:
    """The corpus's name, its prepared passages and its truly reused article pairs."""
    if path is not None:
        read = read_articles([path]).articles
        truth = {_pair(r.suspicious, r.source) for r in read_pan_annotations(path)}
        name = path.name
    else:
        corpus = generate(source_texts(DEFAULT_DOCUMENTS), articles, seed)
        with tempfile.TemporaryDirectory() as folder:
            corpus.write(Path(folder))
            read = read_articles([Path(folder) / "articles.jsonl"]).articles
        truth = {_pair(copy, original) for copy, original, _ in corpus.truth}
        name = f"generated-{articles}"
    prepared = prepare_articles(read)
    encoder = LexicalEncoder()
    owners, ids, thresholds, texts = [], [], [], []
    for article in prepared:
        short = len(article.passages) == 1
        for passage in article.passages:
            owners.append(article.article.id)
            ids.append(article.tokens.within(passage.start, passage.end).ids)
            thresholds.append(short_candidate_threshold(encoder) if short else encoder.candidate_threshold)
            texts.append(passage.text)
    bounds = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum([len(found) for found in ids], out=bounds[1:])
    term_ids = np.concatenate(ids).astype(np.uint64) if ids else np.zeros(0, np.uint64)
    return name, Passages(np.array(owners), term_ids, bounds, np.array(thresholds, np.float32), texts), truth


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _range_hits(index: faiss.Index, vectors: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lefts, rights = [], []
    for value in np.unique(thresholds).tolist():
        rows = np.flatnonzero(thresholds == value)
        lims, _, found = index.range_search(vectors[rows], value)
        lefts.append(np.repeat(rows, np.diff(lims.astype(np.int64))))
        rights.append(found.astype(np.int64))
    return np.concatenate(lefts), np.concatenate(rights)


def _rescored(vectors: np.ndarray, left: np.ndarray, right: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    keep = np.zeros(len(left), dtype=bool)
    for start in range(0, len(left), 200_000):
        part = slice(start, start + 200_000)
        cosine = np.einsum("ij,ij->i", vectors[left[part]], vectors[right[part]])
        keep[part] = cosine >= thresholds[left[part]]
    return keep


def dense_today(vectors: np.ndarray, passages: Passages) -> Found:
    """As a run searches: FAISS's index, searched list by list (`embeddings.index`) when it is inverted-file."""
    started = time.perf_counter()
    index = PassageIndex.from_vectors(vectors)._index
    if searched_by_list(index):
        found = range_search_by_list(index, vectors, passages.thresholds)
        left, right = found.rows, found.ids
    else:
        left, right = _range_hits(index, vectors, passages.thresholds)
    return Found(left, right, time.perf_counter() - started)


def dense_query_by_query(vectors: np.ndarray, passages: Passages) -> Found:
    """The same index, searched by FAISS's own range search, query by query."""
    started = time.perf_counter()
    left, right = _range_hits(PassageIndex.from_vectors(vectors)._index, vectors, passages.thresholds)
    return Found(left, right, time.perf_counter() - started)


def _lists_and_probes(count: int) -> tuple[int, int]:
    """The inverted lists and probes `embeddings.index` gives an index of `count` vectors."""
    lists = lists_for(count)
    return lists, probes_for(lists, count)


def dense_fast_scan(vectors: np.ndarray, passages: Passages) -> Found:
    if len(vectors) <= EXACT_LIMIT:
        return dense_today(vectors, passages)
    started = time.perf_counter()
    lists, probes = _lists_and_probes(len(vectors))
    index = faiss.index_factory(
        vectors.shape[1], f"IVF{lists},PQ{vectors.shape[1] // 4}x4fs", faiss.METRIC_INNER_PRODUCT
    )
    faiss.extract_index_ivf(index).cp.niter = 6
    index.train(vectors[np.random.default_rng(0).permutation(len(vectors))[: 40 * lists]])
    index.add(vectors)
    index.nprobe = probes
    left, right = _range_hits(index, vectors, passages.thresholds - RESCORE_MARGIN)
    keep = _rescored(vectors, left, right, passages.thresholds)
    return Found(left[keep], right[keep], time.perf_counter() - started)


@njit(cache=True, nogil=True)
def band_codes(term_ids: np.ndarray, bounds: np.ndarray, bands: int, rows: int) -> np.ndarray:  # pragma: no cover
    """Each passage's MinHash band keys (`bands` × `rows` hash functions over its set of term ids), 32 bits each."""
    count = len(bounds) - 1
    out = np.empty((count, bands), dtype=np.uint32)
    mins = np.empty(bands * rows, dtype=np.uint64)
    for passage in range(count):
        mins[:] = np.uint64(0xFFFFFFFFFFFFFFFF)
        for position in range(bounds[passage], bounds[passage + 1]):
            for k in range(bands * rows):
                h = mix(term_ids[position] ^ np.uint64((k + 1) * 0x9E3779B97F4A7C15))
                if h < mins[k]:
                    mins[k] = h
        for band in range(bands):
            key = np.uint64(band)
            for row in range(rows):
                key = mix(key ^ mins[band * rows + row])
            out[passage, band] = np.uint32(key & np.uint64(0xFFFFFFFF))
    return out


def minhash_multihash(passages: Passages, bands: int, rows: int) -> Found:
    started = time.perf_counter()
    codes = band_codes(passages.term_ids, passages.bounds, bands, rows).view(np.uint8)
    bits = bands * BAND_BITS
    index = faiss.IndexBinaryMultiHash(bits, bands, BAND_BITS)
    index.add(np.ascontiguousarray(codes))
    lims, _, found = index.range_search(np.ascontiguousarray(codes), bits)
    left = np.repeat(np.arange(len(codes)), np.diff(lims.astype(np.int64)))
    return Found(left, found.astype(np.int64), time.perf_counter() - started)


def simhash_ivf(vectors: np.ndarray, passages: Passages, bits: int = 512) -> Found:
    started = time.perf_counter()
    projections = np.random.default_rng(0).standard_normal((vectors.shape[1], bits)).astype(np.float32)
    codes = np.packbits(vectors @ projections > 0, axis=1)
    lists, probes = _lists_and_probes(len(codes)) if len(codes) > EXACT_LIMIT else (1, 1)
    index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(bits), bits, lists)
    index.train(codes[np.random.default_rng(0).permutation(len(codes))[: 40 * lists]])
    index.add(codes)
    index.nprobe = probes
    # the Hamming radius that holds 99 % of pairs at cosine t: angle arccos(t) as a share of pi, plus 2.3 sigma
    lowest = float(passages.thresholds.min())
    share = np.arccos(lowest) / np.pi
    radius = int(bits * share + 2.3 * np.sqrt(bits * share * (1 - share)))
    lims, _, found = index.range_search(codes, radius)
    left = np.repeat(np.arange(len(codes)), np.diff(lims.astype(np.int64)))
    right = found.astype(np.int64)
    keep = _rescored(vectors, left, right, passages.thresholds)
    return Found(left[keep], right[keep], time.perf_counter() - started)


def score(found: Found, passages: Passages, truth: set[tuple[str, str]]) -> dict[str, Any]:
    owners = passages.owners
    different = owners[found.left] != owners[found.right]
    pairs = {_pair(a, b) for a, b in zip(owners[found.left[different]], owners[found.right[different]], strict=True)}
    kept = len(truth & pairs)
    return {
        "passage_pairs": int(np.count_nonzero(different & (found.left < found.right))),
        "article_pairs": len(pairs),
        "recall": kept / len(truth) if truth else 0.0,
        "missed": len(truth) - kept,
        "seconds": found.seconds,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", type=Path, help="a PAN corpus folder (default: a generated corpus)")
    parser.add_argument("--articles", type=int, default=10_000, help="generated articles, without a corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the result here (default bench/results/candidates-NAME.json)")
    args = parser.parse_args(argv)
    name, passages, truth = load(args.corpus, args.articles, args.seed)
    started = time.perf_counter()
    vectors = LexicalEncoder().encode(passages.texts)
    encode_seconds = time.perf_counter() - started
    band_codes(passages.term_ids[:1], passages.bounds[:2], 1, 1)  # compile before any clock
    methods: list[tuple[str, Callable[[], Found]]] = [
        ("dense IVF, float16, list by list (today)", lambda: dense_today(vectors, passages)),
        ("dense IVF, float16, FAISS range search", lambda: dense_query_by_query(vectors, passages)),
        ("dense IVF, 4-bit PQ fast scan, rescored", lambda: dense_fast_scan(vectors, passages)),
        *[
            (
                f"MinHash LSH on term ids, {b} × {r}, IndexBinaryMultiHash",
                lambda b=b, r=r: minhash_multihash(passages, b, r),
            )
            for b, r in ((37, 3), (50, 3), (20, 2))
        ],
        ("SimHash 512 bits, IndexBinaryIVF, rescored", lambda: simhash_ivf(vectors, passages)),
    ]
    rows = {method: score(run(), passages, truth) for method, run in methods}
    print(f"\ncandidate search on {name}: {len(passages.texts):,} passages, {len(truth):,} reused article pairs")
    print(f"lexical vectors (dense methods only): {encode_seconds:.1f} s")
    print("method | passage pairs | article pairs | recall of reused pairs | missed | seconds")
    print("--- | --- | --- | --- | --- | ---")
    for method, row in rows.items():
        print(
            f"{method} | {row['passage_pairs']:,} | {row['article_pairs']:,} | {row['recall']:.3f} | {row['missed']} | "
            f"{row['seconds']:.1f}"
        )
    target = args.json or RESULTS / f"candidates-{name}.json"
    target.write_text(
        json.dumps(
            {
                "date": datetime.now().strftime("%Y-%m-%d"),
                "corpus": name,
                "passages": len(passages.texts),
                "reused_pairs": len(truth),
                "encode_seconds": encode_seconds,
                "methods": rows,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"JSON: {target}")


if __name__ == "__main__":
    main()
