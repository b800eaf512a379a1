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

from corpus.text import term_positions

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


def dense_region(terms: Sequence[str], other: set[str], weights: dict[str, float], density: float) -> Region:
    """Maximum-sum segment of `terms` scoring `(1 - density) * w` for shared terms, `-density * w` otherwise.

    Any segment with a positive score has at least `density` of its weight shared; the
    returned strength is the shared weight inside the best one.
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


@dataclass
class PassageTerms:
    """Terms of every passage of a run with their offsets, sets and neighbourhoods."""

    terms: list[list[str]]
    spans: list[list[tuple[int, int]]]
    sets: list[set[str]]
    neighbourhoods: list[set[str]]
    weights: dict[str, float]

    @classmethod
    def build(cls, texts: Sequence[str], starts: Sequence[int], owners: Sequence[int], reach: int) -> PassageTerms:
        """Terms of passages (`texts` at offsets `starts`, owned by article numbers `owners`).

        A passage's neighbourhood joins its terms with those of the `reach` passages on either
        side in the same article.
        """
        positions = [term_positions(text, start) for text, start in zip(texts, starts, strict=True)]
        terms = [[term for term, _, _ in found] for found in positions]
        spans = [[(s, e) for _, s, e in found] for found in positions]
        sets = [set(t) for t in terms]
        by_owner: dict[int, set[str]] = {}
        for owner, term_set in zip(owners, sets, strict=True):
            by_owner.setdefault(owner, set()).update(term_set)
        weights_model = TermWeights.from_documents(by_owner.values())
        vocabulary = set().union(*sets) if sets else set()
        weights = {t: weights_model.raw(t) / weights_model.unit for t in vocabulary}
        neighbourhoods = []
        for index, own in enumerate(sets):
            joined = set(own)
            for other in range(max(0, index - reach), min(len(sets), index + reach + 1)):
                if other != index and owners[other] == owners[index]:
                    joined |= sets[other]
            neighbourhoods.append(joined)
        return cls(terms, spans, sets, neighbourhoods, weights)
