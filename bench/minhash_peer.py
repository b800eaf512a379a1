"""The peers, as programs of their own: MinHash LSH over the same windows our run compares.

    python -m bench.minhash_peer PATH... --threshold 0.3 --pairs pairs.json [--library rensa]

Reads PATH with the project's readers, cuts the same passages (`corpus.prepare`), hashes word
3-gram shingles of each and queries an LSH at `--threshold`; writes the article pairs that share a
passage. `datasketch` (Python): 128 permutations, its own choice of bands for the threshold (37 bands
of 3 rows at 0.3). `rensa` (Rust): the same shingles, `RMinHash` + `RMinHashLSH` with the bands and
rows datasketch picks (111 permutations at 0.3). The benches time it as a new process, beside
`storythreads run`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from corpus.article import Passage, PreparedArticle
from corpus.prepare import prepare_articles
from corpus.readers import read_articles
from corpus.text import words


def passages_of(prepared: Sequence[PreparedArticle]) -> list[Passage]:
    """Every passage of the articles, in order."""
    return [p for article in prepared for p in article.passages]


def signatures(passages: Sequence[Passage]) -> list[Any]:
    """MinHash of each passage's word 3-gram shingles."""
    from datasketch import MinHash

    return MinHash.bulk([[s.encode("utf-8") for s in shingles] for shingles in shingle_sets(passages)], num_perm=128)


def shingle_sets(passages: Sequence[Passage]) -> list[list[str]]:
    """Word 3-gram shingles of each passage's folded words (one shingle for a passage of fewer words)."""
    found = []
    for passage in passages:
        tokens = words(passage.folded)
        found.append([" ".join(tokens[i : i + 3]) for i in range(max(1, len(tokens) - 2))])
    return found


def rensa_pairs(passages: Sequence[Passage], threshold: float) -> set[tuple[str, str]]:
    """Article pairs with a pair of passages rensa's LSH finds, with datasketch's bands and rows for `threshold`."""
    from datasketch import MinHashLSH
    from rensa import RMinHash, RMinHashLSH

    bands, rows = MinHashLSH(threshold=threshold, num_perm=128).b, MinHashLSH(threshold=threshold, num_perm=128).r
    hashed = RMinHash.from_token_sets(shingle_sets(passages), num_perm=bands * rows, seed=42)
    lsh = RMinHashLSH(threshold=threshold, num_perm=bands * rows, num_bands=bands)
    lsh.insert_many(hashed)
    found = set()
    for index, others in enumerate(lsh.query_all(hashed)):
        mine = passages[index].article_id
        for other in others:
            theirs = passages[other].article_id
            if theirs != mine:
                found.add((min(mine, theirs), max(mine, theirs)))
    return found


def article_pairs(passages: Sequence[Passage], hashed: list[Any], threshold: float) -> set[tuple[str, str]]:
    """Article pairs (a < b) with a pair of passages the LSH finds at `threshold`."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    with lsh.insertion_session() as session:
        for index, signature in enumerate(hashed):
            session.insert(index, signature, check_duplication=False)
    found = set()
    for index, signature in enumerate(hashed):
        mine = passages[index].article_id
        for other in lsh.query(signature):
            theirs = passages[other].article_id
            if theirs != mine:
                found.add((min(mine, theirs), max(mine, theirs)))
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--threshold", type=float, default=0.3, help="MinHashLSH Jaccard threshold")
    parser.add_argument("--pairs", type=Path, required=True, help="write the pairs here as JSON")
    parser.add_argument("--library", choices=("datasketch", "rensa"), default="datasketch")
    args = parser.parse_args(argv)
    passages = passages_of(prepare_articles(read_articles(args.paths, max_article_bytes=1 << 40).articles))
    if args.library == "rensa":
        pairs = rensa_pairs(passages, args.threshold)
    else:
        pairs = article_pairs(passages, signatures(passages), args.threshold)
    args.pairs.write_text(json.dumps(sorted(pairs)), encoding="utf-8")


if __name__ == "__main__":
    main()
