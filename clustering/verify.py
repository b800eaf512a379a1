"""Deciding whether two candidate passages carry the same text, and where.

Reused text, even with its words shuffled or a third of them replaced by synonyms, leaves a
compact region in each passage where most words (weighted by rarity) also occur on the other
side. Two passages on the same topic share common words too, but scattered and fewer. So a
match needs a *dense region*: the stretch of one passage that maximises
`shared weight - density * total weight` (a maximum-sum segment), whose shared weight is at
least `min_strength` average words. The other side is the candidate passage plus its
neighbouring windows, so a reused passage that straddles two windows is still whole.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from corpus.arrays import distinct
from corpus.article import PreparedArticle
from corpus.tokens import tokenise
from executor import Executor

PRIOR_DOCUMENTS = 1000
"""Pseudo-documents without the term: in a small batch every word weighs about the same,
in a large one common words weigh less. Keeps weights meaningful from 2 to 2 million articles."""

CHUNK = 200
"""Articles per chunk of tokenising work sent to a worker process."""

CACHE_LIMIT = 100_000
"""Entries kept per cache of `PassageTerms` sets and lists: enough for the locality of sorted
candidate pairs, bounded so that a night of millions of passages does not hold a set for each."""


WORKER_CACHE_LIMIT = 20_000
"""Cache entries in a verifying worker: its chunks are short runs of candidates, and a
neighbourhood set costs kilobytes (100,000 of them took 1.4 GB per worker at 100k articles)."""


def term_weights(document_frequency: np.ndarray, documents: int) -> np.ndarray:
    """Inverse document frequency smoothed by a prior, in units of the average word's weight.

    `log((documents + prior) / (document frequency + 1))`, divided by its mean over all
    occurrences, so that strengths read as "average words".
    """
    raw = math.log(documents + PRIOR_DOCUMENTS) - np.log(document_frequency.astype(np.float64) + 1.0)
    occurrences = float(document_frequency.sum())
    unit = float(raw @ document_frequency) / occurrences if occurrences else 1.0
    return raw / (unit or 1.0)


@dataclass(frozen=True)
class Region:
    """The densest shared region of one passage: strength in average words, term index range."""

    strength: float
    first: int
    last: int


def dense_region(terms: Sequence[int], other: set[int], weights: Sequence[float], density: float) -> Region:
    """Maximum-sum segment of `terms` scoring `(1 - density) * w` for shared terms, `-density * w` otherwise.

    Terms are ids into `weights`. Any segment with a positive score has at least `density`
    of its weight shared; the returned strength is the shared weight inside the best one.
    """
    best = current = 0.0
    best_strength = current_strength = 0.0
    best_first = best_last = current_first = 0
    for index, term in enumerate(terms):
        weight = weights[term]
        if term in other:
            current += (1.0 - density) * weight
            current_strength += weight
        else:
            current -= density * weight
        if current <= 0.0:
            current = current_strength = 0.0
            current_first = index + 1
        elif current > best:
            best, best_strength, best_first, best_last = current, current_strength, current_first, index
    return Region(best_strength, best_first, best_last)


def ordered_region(
    terms_a: Sequence[int], terms_b: Sequence[int], weights: Sequence[float], density: float, min_span: float = 0.0
) -> tuple[float, int, int, int, int]:
    """The heaviest stretch of words the two share in the same order that is at least `density` of its span.

    Takes the heaviest common subsequence (weighted LCS), then the run of its aligned words
    whose weight (each distinct word once) is the largest while making at least `density` of the weight of the span it
    covers on the lighter side, a span of at least `min_span`. Returns (weight, first, last
    term on side a, first, last on side b); weight 0.0 and -1s when no run qualifies. A reworded passage inside a longer
    window is such a run; words two texts merely have in common are spread too thin.
    """
    rows = [[0.0] * (len(terms_b) + 1)]
    for term in terms_a:
        weight, previous = weights[term], rows[-1]
        current = [0.0]
        for index, other in enumerate(terms_b):
            current.append(previous[index] + weight if term == other else max(previous[index + 1], current[index]))
        rows.append(current)
    aligned: list[tuple[int, int]] = []
    i, j = len(terms_a), len(terms_b)
    while i and j:
        if terms_a[i - 1] == terms_b[j - 1] and rows[i][j] == rows[i - 1][j - 1] + weights[terms_a[i - 1]]:
            aligned.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif rows[i - 1][j] >= rows[i][j - 1]:
            i -= 1
        else:
            j -= 1
    aligned.reverse()
    span_a = list(itertools.accumulate((weights[t] for t in terms_a), initial=0.0))
    span_b = list(itertools.accumulate((weights[t] for t in terms_b), initial=0.0))
    best: tuple[float, int, int, int, int] = (0.0, -1, -1, -1, -1)
    for first, (first_a, first_b) in enumerate(aligned):
        seen: set[int] = set()
        found = 0.0
        for last_a, last_b in aligned[first:]:
            term = terms_a[last_a]
            if term not in seen:  # a word repeated in the run (a template's markup) counts once
                seen.add(term)
                found += weights[term]
            if found <= best[0]:
                continue
            lighter = min(span_a[last_a + 1] - span_a[first_a], span_b[last_b + 1] - span_b[first_b])
            if found >= density * lighter and lighter >= min_span:
                best = (found, first_a, last_a, first_b, last_b)
    return best


class _Terms:
    """Cached per-passage term lists and sets over some storage of term rows (see subclasses)."""

    weights: list[float]
    article_weights: list[float]
    """The weight of each article's terms, repeats included (in the order of the articles)."""
    _owner: list[int]
    _reach: int

    def _start_caches(self, limit: int = CACHE_LIMIT) -> None:
        self._cache_limit = limit
        self._terms: dict[int, list[int]] = {}
        self._sets: dict[int, set[int]] = {}
        self._neighbourhoods: dict[int, set[int]] = {}
        self._totals: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self._owner)

    def _term_row(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def article_weight_of(self, index: int) -> float:
        """The weight of the article that passage `index` belongs to (see `article_weights`)."""
        return self.article_weights[self._owner[index]]

    def terms_of(self, index: int) -> list[int]:
        """The term ids of passage `index`, in order."""
        found = self._terms.get(index)
        if found is None:
            _bound(self._terms, self._cache_limit)
            found = self._terms[index] = self._term_row(index).tolist()
        return found

    def set_of(self, index: int) -> set[int]:
        """The distinct term ids of passage `index`."""
        found = self._sets.get(index)
        if found is None:
            _bound(self._sets, self._cache_limit)
            found = self._sets[index] = set(self.terms_of(index))
        return found

    def terms_around(self, indexes: Iterable[int]) -> set[int]:
        """Term ids of the passages `indexes` and of the `reach` passages either side of each, in its article."""
        owner = self._owner
        near = set()
        for index in indexes:
            near.update(
                other
                for other in range(max(0, index - self._reach), min(len(owner), index + self._reach + 1))
                if owner[other] == owner[index]
            )
        found: set[int] = set()
        for index in near:
            found |= self.set_of(index)
        return found

    def total_weight(self, index: int) -> float:
        """The weight of every term of passage `index`, repeats included: no weight shared with another text exceeds it.

        (Summed in the passage's order, so a sum over some of its terms, in the same order, is never larger.)
        """
        found = self._totals.get(index)
        if found is None:
            _bound(self._totals, self._cache_limit)
            found = self._totals[index] = sum(map(self.weights.__getitem__, self.terms_of(index)))
        return found

    def neighbourhood(self, index: int) -> set[int]:
        """Term ids of passage `index` and of the `reach` passages either side in its article."""
        found = self._neighbourhoods.get(index)
        if found is None:
            _bound(self._neighbourhoods, self._cache_limit)
            found = set(self.set_of(index))
            owner = self._owner[index]
            for other in range(max(0, index - self._reach), min(len(self._owner), index + self._reach + 1)):
                if other != index and self._owner[other] == owner:
                    found |= self.set_of(other)
            self._neighbourhoods[index] = found
        return found


class PassageTerms(_Terms):
    """Terms of the passages of a run (as ids into `weights`) with their offsets.

    The terms of every paragraph that has passages come from each article's one tokenisation
    (`PreparedArticle.tokens`, `corpus.tokens`), renumbered densely for the night in one vectorised step,
    as three integer rows per article: term numbers, starts, ends (12 bytes a word). A passage is a
    slice of its article's rows; each term's document frequency (articles carrying it) sets its weight.
    """

    def __init__(
        self,
        prepared: Sequence[PreparedArticle],
        reach: int,
        executor: Executor | None = None,
    ) -> None:
        rows = [_paragraph_terms(article) for article in _with_tokens(prepared)]
        sizes = np.fromiter((len(ids) for ids, _, _ in rows), dtype=np.int64, count=len(rows))
        every = np.concatenate([ids for ids, _, _ in rows]) if rows else np.zeros(0, np.uint64)
        distinct_ids, numbers = np.unique(every, return_inverse=True)
        numbers = numbers.astype(np.int32)
        owner_of_term = np.repeat(np.arange(len(rows), dtype=np.int64), sizes)
        # an article counts once for each term it carries
        pairs = distinct(owner_of_term * len(distinct_ids) + numbers) % max(len(distinct_ids), 1)
        frequency = np.bincount(pairs.astype(np.int64), minlength=len(distinct_ids))
        self.ids: np.ndarray = distinct_ids
        """The 64-bit id of each term number."""
        self._tokens: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        firsts: list[np.ndarray] = []
        lasts: list[np.ndarray] = []
        offset = 0
        for owner, (article, (_, starts, ends)) in enumerate(zip(prepared, rows, strict=True)):
            size = len(starts)
            tokens = np.empty((3, size), dtype=np.int32)
            tokens[0] = numbers[offset : offset + size]
            tokens[1], tokens[2] = starts, ends
            offset += size
            spans = np.array([(p.start, p.end) for p in article.passages], dtype=np.int64).reshape(-1, 2)
            bounds = np.searchsorted(tokens[1], spans)
            self._tokens.append(tokens)
            owners.append(np.full(len(spans), owner, dtype=np.int32))
            firsts.append(bounds[:, 0].astype(np.int32))
            lasts.append(bounds[:, 1].astype(np.int32))
        weights = term_weights(frequency, len(prepared))
        self.weights: list[float] = weights.tolist()
        self.article_weights = [float(weights[tokens[0]].sum()) for tokens in self._tokens]
        self._owner: list[int] = np.concatenate(owners).tolist() if owners else []
        self._first: list[int] = np.concatenate(firsts).tolist() if firsts else []
        self._last: list[int] = np.concatenate(lasts).tolist() if lasts else []
        self._reach = reach
        self._start_caches()

    def _term_row(self, index: int) -> np.ndarray:
        return self._tokens[self._owner[index]][0, self._first[index] : self._last[index]]

    def span_of(self, index: int, term: int) -> tuple[int, int]:
        """Offsets in the article's text of the `term`-th term of passage `index`."""
        tokens = self._tokens[self._owner[index]]
        position = self._first[index] + term
        return int(tokens[1, position]), int(tokens[2, position])

    def for_workers(self) -> CompactTerms:
        """The term rows (without offsets) and weights as a few flat arrays: cheap to send to workers."""
        sizes = np.fromiter((tokens.shape[1] for tokens in self._tokens), dtype=np.int64, count=len(self._tokens))
        bases = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        owner = np.array(self._owner, dtype=np.int64)
        return CompactTerms(
            np.concatenate([tokens[0] for tokens in self._tokens] or [np.zeros(0, np.int32)]),
            bases[owner] + np.array(self._first, dtype=np.int64),
            bases[owner] + np.array(self._last, dtype=np.int64),
            owner,
            self.weights,
            self.article_weights,
            self._reach,
        )

    def article_terms(self, article: int) -> np.ndarray:
        """The term ids of article `article` (its index), in order."""
        return self._tokens[article][0]

    def tokens_within(self, article: int, start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Term ids, starts and ends of the terms of article `article` (its index) inside `start`..`end`."""
        tokens = self._tokens[article]
        first, last = np.searchsorted(tokens[1], start), np.searchsorted(tokens[2], end, side="right")
        return tokens[0, first:last], tokens[1, first:last], tokens[2, first:last]


class CompactTerms(_Terms):
    """The passage terms of a `PassageTerms` as flat arrays, sent once to each worker that verifies.

    Its caches are the receiving process's own: they are not sent.
    """

    def __init__(
        self,
        flat: np.ndarray,
        first: np.ndarray,
        last: np.ndarray,
        owner: np.ndarray,
        weights: list[float],
        article_weights: list[float],
        reach: int,
    ) -> None:
        self._flat = flat
        self._first_row = first
        self._last_row = last
        self._owner = owner  # type: ignore[assignment]
        self.weights = weights
        self.article_weights = article_weights
        self._reach = reach
        self._arrays: tuple[np.ndarray, ...] | None = None
        self._start_caches(WORKER_CACHE_LIMIT)

    def __getstate__(self) -> tuple:
        return (
            self._flat,
            self._first_row,
            self._last_row,
            self._owner,
            self.weights,
            self.article_weights,
            self._reach,
        )

    def __setstate__(self, state: tuple) -> None:
        self.__init__(*state)  # type: ignore[misc]

    def _term_row(self, index: int) -> np.ndarray:
        return self._flat[self._first_row[index] : self._last_row[index]]

    @property
    def reach(self) -> int:
        """Passages either side of a passage that make its neighbourhood."""
        return self._reach

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Flat term numbers, each passage's first and last+1 row, its article, and the weights of terms and
        articles: what the compiled verification reads (`clustering.verify_kernel`); made once per process."""
        if self._arrays is None:
            self._arrays = (
                np.ascontiguousarray(self._flat, dtype=np.int64),
                np.asarray(self._first_row, dtype=np.int64),
                np.asarray(self._last_row, dtype=np.int64),
                np.asarray(self._owner, dtype=np.int64),
                np.asarray(self.weights, dtype=np.float64),
                np.asarray(self.article_weights, dtype=np.float64),
            )
        return self._arrays


def _with_tokens(prepared: Sequence[PreparedArticle]) -> Sequence[PreparedArticle]:
    """`prepared`, each with its tokens: those prepared without them (by hand) are tokenised now, in one pass."""
    missing = [article for article in prepared if article.tokens is None]
    if missing:
        found = tokenise([article.article.text for article in missing])
        for index, article in enumerate(missing):
            article.tokens = found[index]
    return prepared


def _paragraph_terms(article: PreparedArticle) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ids, starts and ends of the terms of the article's paragraphs that have passages."""
    terms = article.tokens
    assert terms is not None
    keep = np.zeros(len(terms), dtype=bool)
    for index in sorted({passage.paragraph for passage in article.passages}):
        paragraph = article.paragraphs[index]
        first = np.searchsorted(terms.starts, paragraph.start)
        keep[first : np.searchsorted(terms.ends, paragraph.end, side="right")] = True
    return terms.ids[keep], terms.starts[keep], terms.ends[keep]


def _bound(cache: dict, limit: int) -> None:
    if len(cache) >= limit:
        cache.clear()
