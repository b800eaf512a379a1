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

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from corpus.article import PreparedArticle
from corpus.text import term_positions, token_terms

PRIOR_DOCUMENTS = 1000
"""Pseudo-documents without the term: in a small batch every word weighs about the same,
in a large one common words weigh less. Keeps weights meaningful from 2 to 2 million articles."""


class TermWeights:
    """Inverse document frequency of terms over the articles of a run, smoothed by a prior."""

    def __init__(self, document_frequency: Counter[str], documents: int) -> None:
        self._frequency = document_frequency
        self._total = math.log(documents + PRIOR_DOCUMENTS)
        occurrences = sum(document_frequency.values())
        mean = sum(self.raw(t) * c for t, c in document_frequency.items()) / occurrences if occurrences else 1.0
        self.unit = mean or 1.0
        """Weight of an average word: strengths are expressed in average words."""

    @classmethod
    def from_documents(cls, documents: Iterable[Iterable[str]]) -> TermWeights:
        """Weights from the terms of each document (an article's terms, each counted once)."""
        frequency: Counter[str] = Counter()
        count = 0
        for terms in documents:
            frequency.update(set(terms))
            count += 1
        return cls(frequency, count)

    def raw(self, term: str) -> float:
        """log((documents + prior) / (document frequency + 1))."""
        return self._total - math.log(self._frequency.get(term, 0) + 1)


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


class PassageTerms:
    """Terms of the passages of a run (as ids into `weights`) with their offsets, built on demand.

    Document frequencies (for the weights) need one pass over every article's words; a
    paragraph is tokenised once, when one of its passages is first in a candidate pair, and
    kept as three small integer arrays (term ids, starts, ends: 12 bytes a word), so that it is
    never tokenised twice however its candidates are ordered. Its windows take slices of them.
    """

    def __init__(self, prepared: Sequence[PreparedArticle], reach: int) -> None:
        self._prepared = prepared
        self._passages: list[tuple[int, int, int, int]] = []
        """(owner article, paragraph, start, end) of each passage, in order."""
        frequency: Counter[str] = Counter()
        for owner, article in enumerate(prepared):
            tokens: set[str] = set()
            for paragraph in {p.paragraph for p in article.passages}:
                tokens.update(article.paragraphs[paragraph].text.split())
            vocabulary: set[str] = set()
            for token in tokens:
                vocabulary.update(token_terms(token))
            frequency.update(vocabulary)
            self._passages.extend((owner, p.paragraph, p.start, p.end) for p in article.passages)
        model = self._model = TermWeights(frequency, len(prepared))
        self.ids: dict[str, int] = {term: number for number, term in enumerate(frequency)}
        self.weights: list[float] = [model.raw(term) / model.unit for term in frequency]
        self._reach = reach
        self._paragraphs: dict[tuple[int, int], tuple[np.ndarray, int]] = {}
        self._shapes: dict[str, np.ndarray] = {}
        self._terms: dict[int, list[int]] = {}
        self._sets: dict[int, set[int]] = {}
        self._neighbourhoods: dict[int, set[int]] = {}

    def __len__(self) -> int:
        return len(self._passages)

    def _paragraph(self, owner: int, paragraph: int) -> tuple[np.ndarray, int]:
        """(rows of term ids, starts and ends relative to the paragraph; the paragraph's offset in its article)."""
        found = self._paragraphs.get((owner, paragraph))
        if found is None:
            text = self._prepared[owner].paragraphs[paragraph]
            # copies repeat paragraphs word for word: a recent paragraph's text is tokenised once
            shape = self._shapes.get(text.text)
            if shape is None:
                _bound(self._shapes)
                ids = self.ids
                positions = term_positions(text.text)
                for term, _, _ in positions:
                    if term not in ids:  # a tokenisation corner the vocabulary pass split otherwise
                        ids[term] = len(self.weights)
                        self.weights.append(self._model.raw(term) / self._model.unit)
                shape = np.array(
                    [[ids[t] for t, _, _ in positions], [s for _, s, _ in positions], [e for _, _, e in positions]],
                    dtype=np.int32,
                ).reshape(3, len(positions))
                self._shapes[text.text] = shape
            found = self._paragraphs[(owner, paragraph)] = (shape, text.start)
        return found

    def _range(self, index: int) -> tuple[np.ndarray, int, int, int]:
        owner, paragraph, start, end = self._passages[index]
        shape, offset = self._paragraph(owner, paragraph)
        starts = shape[1]
        first, last = np.searchsorted(starts, (start - offset, end - offset))
        return shape, offset, int(first), int(last)

    def terms_of(self, index: int) -> list[int]:
        """The term ids of passage `index`, in order."""
        found = self._terms.get(index)
        if found is None:
            _bound(self._terms)
            shape, _, first, last = self._range(index)
            found = self._terms[index] = shape[0, first:last].tolist()
        return found

    def span_of(self, index: int, term: int) -> tuple[int, int]:
        """Offsets in the article's text of the `term`-th term of passage `index`."""
        shape, offset, first, _ = self._range(index)
        return offset + int(shape[1, first + term]), offset + int(shape[2, first + term])

    def set_of(self, index: int) -> set[int]:
        """The distinct term ids of passage `index`."""
        found = self._sets.get(index)
        if found is None:
            _bound(self._sets)
            found = self._sets[index] = set(self.terms_of(index))
        return found

    def neighbourhood(self, index: int) -> set[int]:
        """Term ids of passage `index` and of the `reach` passages either side in its article."""
        found = self._neighbourhoods.get(index)
        if found is None:
            _bound(self._neighbourhoods)
            found = set(self.set_of(index))
            owner = self._passages[index][0]
            for other in range(max(0, index - self._reach), min(len(self._passages), index + self._reach + 1)):
                if other != index and self._passages[other][0] == owner:
                    found |= self.set_of(other)
            self._neighbourhoods[index] = found
        return found


CACHE_LIMIT = 100_000
"""Entries kept per cache of `PassageTerms` sets and lists: enough for the locality of sorted
candidate pairs, bounded so that a night of millions of passages does not hold a set for each."""


def _bound(cache: dict) -> None:
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
