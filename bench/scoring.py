"""Scores for the quality benchmark: pair precision/recall, B-cubed, adjusted Rand index."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PairScore:
    """Precision, recall and F1 of predicted pairs against true pairs."""

    precision: float
    recall: float
    true_positives: int
    predicted: int
    actual: int

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall (0.0 when both are 0)."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def normalise_pair(a: str, b: str) -> tuple[str, str]:
    """An unordered pair as a sorted tuple."""
    return (a, b) if a <= b else (b, a)


def pair_scores(predicted: Iterable[tuple[str, str]], actual: Iterable[tuple[str, str]]) -> PairScore:
    """Precision and recall over unordered pairs; an empty prediction has precision 0."""
    predicted_set = {normalise_pair(*p) for p in predicted}
    actual_set = {normalise_pair(*p) for p in actual}
    hits = len(predicted_set & actual_set)
    precision = hits / len(predicted_set) if predicted_set else 0.0
    recall = hits / len(actual_set) if actual_set else 0.0
    return PairScore(precision, recall, hits, len(predicted_set), len(actual_set))


@dataclass(frozen=True)
class ClusterScore:
    """B-cubed precision, recall and F1, and the adjusted Rand index, of a clustering."""

    precision: float
    recall: float
    f1: float
    adjusted_rand: float
    clusters: int


def bcubed(predicted: Mapping[str, Hashable], actual: Mapping[str, Hashable]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 over the items of `actual` (each must be in `predicted`)."""
    missing = set(actual) - set(predicted)
    if missing:
        raise ValueError(f"{len(missing)} items have no predicted cluster, e.g. {sorted(missing)[:3]}")
    if not actual:
        raise ValueError("bcubed needs at least one item")
    predicted_members: dict[Hashable, set[str]] = defaultdict(set)
    actual_members: dict[Hashable, set[str]] = defaultdict(set)
    for item in actual:
        predicted_members[predicted[item]].add(item)
        actual_members[actual[item]].add(item)
    precision = recall = 0.0
    for item in actual:
        together = len(predicted_members[predicted[item]] & actual_members[actual[item]])
        precision += together / len(predicted_members[predicted[item]])
        recall += together / len(actual_members[actual[item]])
    precision /= len(actual)
    recall /= len(actual)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def adjusted_rand(predicted: Mapping[str, Hashable], actual: Mapping[str, Hashable]) -> float:
    """Adjusted Rand index of two labellings of the items of `actual`."""
    from sklearn.metrics import adjusted_rand_score

    items = sorted(actual)
    return float(adjusted_rand_score([str(actual[i]) for i in items], [str(predicted[i]) for i in items]))


def cluster_scores(predicted: Mapping[str, Hashable], actual: Mapping[str, Hashable]) -> ClusterScore:
    """All clustering scores at once."""
    precision, recall, f1 = bcubed(predicted, actual)
    clusters = len({predicted[i] for i in actual})
    return ClusterScore(precision, recall, f1, adjusted_rand(predicted, actual), clusters)


def with_singletons(threads: Mapping[str, str], items: Iterable[str]) -> dict[str, str]:
    """Thread labels for every item, each unthreaded item in a group of its own."""
    return {item: threads.get(item, f"unthreaded:{item}") for item in items}
