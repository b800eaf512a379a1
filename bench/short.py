"""Tweet-sized items with planted near-copies and half-overlaps, and how a run's pairs score against them.

    python -m bench.quality short ../shared/data/reuse-dev [--items 5000]

Items of 80 to 200 characters are cut from the sentences of the seeds and of the reuse-dev source
documents (`bench.corpus.sentences_of`: no two share a word 4-gram by accident). Then:

- a *near-copy* is an item again with light edits: a prefix («عاجل:»), a source tag, a word or two
  dropped or swapped (it keeps most of the original's words);
- a *half-overlap* begins with an item's first words and ends in words of its own, so that 30 to 45 % of
  the shorter one's words, and at least five, are the original's (`HALF_SHARES`, `HALF_WORDS`).

The truth is measured on the texts themselves, not on what was planted: two items are near-duplicates
when at least half of the shorter one's distinct words are in the other (`word_share`), for every pair of items
(a sparse product over all of them), so an unplanted pair that shares that much counts too. Words are
the `\\w+` tokens of the matching form (`corpus.text.fold`) that are not function words, digits or single
letters, without the article and one-letter clitics written onto them (`content_words`): the words that
carry the content, otherwise as written (not stemmed).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import sentences_of
from bench.scoring import pair_scores
from corpus.article import Article
from corpus.text import STOPWORDS, fold, words
from reports.report import reported_pairs

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
MIN_CHARS, MAX_CHARS = 80, 200
PREFIXES = ("عاجل: ", "#عاجل ", "بالفيديو | ", "خبر عاجل - ", "")
TAGS = (" (رويترز)", " - وكالات", " #أخبار", " عبر @newsdesk", "")
TOPIC_RUN = 12
"""Sentences of one document kept in a row when the pool is shuffled."""
NEAR_DUPLICATE_SHARE = 0.5
"""Two items are near-duplicates when at least this share of the shorter one's words is in the other."""


@dataclass
class ShortCorpus:
    """Items and what was planted among them: (item, original, "copy" | "half")."""

    items: list[Article] = field(default_factory=list)
    planted: list[tuple[str, str, str]] = field(default_factory=list)

    def write(self, folder: Path) -> Path:
        """`items.jsonl` in `folder` (ids, texts, sources; no titles: a post has none); returns its path."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "items.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            for item in self.items:
                out.write(json.dumps({"id": item.id, "text": item.text, "source": item.source}, ensure_ascii=False))
                out.write("\n")
        return path


def content_words(text: str) -> list[str]:
    """The words of `text` that carry content: folded, not function words, digits or single letters, each
    without the Arabic article and the one-letter conjunctions and prepositions written onto it («والأعضاء»,
    «الأعضاء» and «أعضاء» are one word; no suffix is touched)."""
    return [_bare(w) for w in words(fold(text)) if len(w) > 1 and not w.isdigit() and w not in STOPWORDS]


def _bare(word: str) -> str:
    if word[:1] in ("و", "ف") and len(word) > 4:
        word = word[1:]
    if word[:1] in ("ب", "ل", "ك") and word[1:3] == "ال" and len(word) > 5:
        word = word[1:]
    if word.startswith("لل") and len(word) > 4:
        return word[2:]
    return word[2:] if word.startswith("ال") and len(word) > 4 else word


def share_of(a: str, b: str) -> float:
    """Share of text `a`'s distinct words (`content_words`) that occur in text `b`."""
    words_a = set(content_words(a))
    return len(words_a & set(content_words(b))) / len(words_a) if words_a else 0.0


def word_share(a: str, b: str) -> float:
    """Share of the shorter text's distinct words (`content_words`) that occur in the other."""
    words_a, words_b = set(content_words(a)), set(content_words(b))
    shorter, other = (words_a, words_b) if len(words_a) <= len(words_b) else (words_b, words_a)
    return len(shorter & other) / len(shorter) if shorter else 0.0


def _sized(pool: Sequence[str], start: int) -> tuple[str, int]:
    """An item of `MIN_CHARS` to `MAX_CHARS` from the sentences of `pool` from `start` on; the next start."""
    text = pool[start % len(pool)]
    used = 1
    while len(text) < MIN_CHARS:
        text = f"{text} {pool[(start + used) % len(pool)]}"
        used += 1
    if len(text) > MAX_CHARS:
        cut = text[:MAX_CHARS].rsplit(" ", 1)[0]
        text = cut if len(cut) >= MIN_CHARS else text[:MAX_CHARS]
    return text, start + used


def _near_copy(text: str, rng: random.Random, vocabulary: Sequence[str]) -> str:
    tokens = text.split()
    for _ in range(rng.randint(0, 2)):  # a word or two dropped, or swapped for another
        at = rng.randrange(len(tokens))
        if rng.random() < 0.5 and len(tokens) > 8:
            del tokens[at]
        else:
            tokens[at] = rng.choice(vocabulary)
    return rng.choice(PREFIXES) + " ".join(tokens) + rng.choice(TAGS)


HALF_SHARES = (0.30, 0.45)
"""The band of `word_share` a planted half-overlap must fall in: clearly reuse, clearly under half."""
HALF_WORDS = 5
"""The fewest words a planted half-overlap shares with its original: fewer («صوت المخرج») is no evidence of reuse."""


def _half_overlap(text: str, filler: str, rng: random.Random) -> str | None:
    """The first words of `text`, then words of `filler` to about its length; None if no cut lands in
    `HALF_SHARES` (a filler that happens to share the original's words)."""
    tokens, own = text.split(), filler.split()
    for _ in range(20):
        kept = tokens[: max(4, round(len(tokens) * rng.uniform(0.30, 0.50)))]
        half = " ".join(kept + own[: max(4, len(tokens) - len(kept))])
        shared = set(content_words(half)) & set(content_words(text))
        if HALF_SHARES[0] <= word_share(half, text) <= HALF_SHARES[1] and len(shared) >= HALF_WORDS:
            return half
    return None


def generate_short(texts: Sequence[str], items: int, seed: int = 0, planted_share: float = 0.05) -> ShortCorpus:
    """`items` items, of which about `planted_share` are near-copies and as many are half-overlaps."""
    if items < 10:
        raise ValueError(f"items must be at least 10, got {items}")
    pool = sentences_of(texts)
    rng = random.Random(seed)
    # runs of a document's sentences kept together: neighbouring items share its topic's words, as posts
    # about one story do, without sharing its reporting
    blocks = [pool[i : i + TOPIC_RUN] for i in range(0, len(pool), TOPIC_RUN)]
    rng.shuffle(blocks)
    pool = [sentence for block in blocks for sentence in block]
    vocabulary = sorted({w for s in pool for w in s.split() if len(w) > 3 and w.isalpha()})
    planted = int(items * planted_share)
    originals = items - 2 * planted
    corpus = ShortCorpus()
    cursor = 0
    for number in range(originals):
        text, cursor = _sized(pool, cursor)
        corpus.items.append(Article(f"s{number:05d}", "", text, source=f"outlet-{rng.randint(1, 50)}"))
    bases = list(corpus.items)
    for number in range(planted):
        original = rng.choice(bases)
        copy = Article(f"c{number:05d}", "", _near_copy(original.text, rng, vocabulary), source="outlet-copy")
        corpus.items.append(copy)
        corpus.planted.append((copy.id, original.id, "copy"))
    number = 0
    while number < planted:
        original = rng.choice(bases)
        filler, cursor = _sized(pool, cursor)
        text = _half_overlap(original.text, filler, rng)
        if text is None:
            continue
        half = Article(f"h{number:05d}", "", text, source="outlet-half")
        corpus.items.append(half)
        corpus.planted.append((half.id, original.id, "half"))
        number += 1
    return corpus


def short_texts(documents: Path) -> list[str]:
    """The seeds' texts, then those of the PAN corpus's source documents (or of every `.txt` under a folder)."""
    from bench.corpus import source_texts

    return [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))] + source_texts(documents)


def near_duplicate_truth(items: Sequence[Article], least: float = NEAR_DUPLICATE_SHARE) -> set[tuple[str, str]]:
    """Every pair of items (sorted ids) where at least `least` of the shorter one's words are in the other."""
    from scipy import sparse

    vocabulary: dict[str, int] = {}
    rows, columns, lengths = [], [], []
    for row, item in enumerate(items):
        distinct_words = set(content_words(item.text))
        lengths.append(len(distinct_words))
        for word in distinct_words:
            rows.append(row)
            columns.append(vocabulary.setdefault(word, len(vocabulary)))
    present = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, columns)), shape=(len(items), len(vocabulary)))
    found = (present @ present.T).tocoo()  # [i, j]: distinct words the two share
    length = np.array(lengths, dtype=np.float32)
    truth = set()
    for i, j, shared in zip(found.row.tolist(), found.col.tolist(), found.data.tolist(), strict=True):
        if i == j or not length[i] or (length[i], i) > (length[j], j):
            continue  # counted from the shorter side (ties: the lower row)
        if shared >= least * length[i]:
            a, b = items[i].id, items[j].id
            truth.add((a, b) if a < b else (b, a))
    return truth


def score_short(report: dict[str, Any], corpus: ShortCorpus) -> dict[str, Any]:
    """Near-duplicate precision and recall against `near_duplicate_truth`; how the half-overlaps were reported."""
    texts = {item.id: item.text for item in corpus.items}
    truth = near_duplicate_truth(corpus.items)
    strong = _pairs_of_kinds(report, ("exact", "near_duplicate"))
    listed = {tuple(sorted(p["articles"])): p for p in report["duplicates"]}
    scores = pair_scores(strong, truth)
    halves = [(item, original) for item, original, kind in corpus.planted if kind == "half"]
    reported_halves, partial_halves, close_halves = 0, 0, 0
    errors = []
    every = set(reported_pairs(report))
    for item, original in halves:
        key = (item, original) if item < original else (original, item)
        share = share_of(texts[item], texts[original])
        if key not in every:
            continue
        reported_halves += 1
        pair = listed.get(key)
        if pair is None or pair["kind"] != "partial_reuse":
            continue
        partial_halves += 1
        error = abs(pair["containment"][item] - share)
        errors.append(error)
        close_halves += error <= 0.1
    copies = [(item, original) for item, original, kind in corpus.planted if kind == "copy"]
    false = sorted(strong - truth)
    return {
        "items": len(corpus.items),
        "near-duplicate pairs (truth)": len(truth),
        "near-duplicate precision": scores.precision,
        "near-duplicate recall": scores.recall,
        "near-duplicate f1": scores.f1,
        "planted copies found": sum(tuple(sorted(c)) in every for c in copies) / max(1, len(copies)),
        "half-overlaps": len(halves),
        "half-overlaps reported": reported_halves / max(1, len(halves)),
        "half-overlaps as partial_reuse within 0.1": close_halves / max(1, len(halves)),
        "half-overlap containment error (median)": float(np.median(errors)) if errors else float("nan"),
        "partial_reuse pairs": sum(p["kind"] == "partial_reuse" for p in report["duplicates"]),
        "false near-duplicates (first 5)": [[a, b, round(word_share(texts[a], texts[b]), 2)] for a, b in false[:5]],
        "missed near-duplicates (first 5)": [
            [a, b, round(word_share(texts[a], texts[b]), 2)] for a, b in sorted(truth - strong)[:5]
        ],
    }


def _pairs_of_kinds(report: dict[str, Any], kinds: Iterable[str]) -> set[tuple[str, str]]:
    """The reported pairs of `kinds`, with the pairs inside duplicate groups (each copy of a group counts)."""
    wanted = set(kinds)
    kept = {**report, "duplicates": [p for p in report["duplicates"] if p["kind"] in wanted]}
    return set(reported_pairs(kept))
