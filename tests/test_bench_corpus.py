"""The benchmark corpus generator: deterministic, and its planted copies are what the pipeline finds."""

from __future__ import annotations

from bench.corpus import KINDS, generate
from reports.report import reported_pairs
from tests.batch import analyse
from tests.conftest import generator_texts


def test_same_arguments_give_the_same_corpus() -> None:
    first, second = generate(generator_texts(), 60, seed=3), generate(generator_texts(), 60, seed=3)
    assert [(a.id, a.text, a.published_at) for a in first.articles] == [
        (a.id, a.text, a.published_at) for a in second.articles
    ]
    assert first.truth == second.truth
    assert generate(generator_texts(), 60, seed=4).truth != first.truth


def test_planted_copies_are_found_and_little_else() -> None:
    corpus = generate(generator_texts(), 150, seed=1, copy_share=0.2)
    assert {kind for _, _, kind in corpus.truth} == set(KINDS)
    # verbatim copies are one duplicate group with their original: the pairs it implies count as found
    pairs = {frozenset(pair) for pair in reported_pairs(analyse(corpus.articles).report)}
    truth = {frozenset((copy, original)) for copy, original, _ in corpus.truth}
    family = {copy: original for copy, original, _ in corpus.truth}
    recall = len(truth & pairs) / len(truth)
    # two copies of one original share its reporting too: a pair inside one family is right
    right = [p for p in pairs if len({family.get(a, a) for a in p}) == 1]
    precision = len(right) / len(pairs)
    assert recall >= 0.9, sorted(kind for c, o, kind in corpus.truth if frozenset((c, o)) not in pairs)
    assert precision >= 0.9
