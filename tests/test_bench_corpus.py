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


def test_short_items_plant_copies_and_half_overlaps_and_the_scores_read_the_texts_not_the_plan() -> None:
    from bench.short import HALF_SHARES, generate_short, near_duplicate_truth, score_short, share_of, word_share

    corpus = generate_short(generator_texts(), 200, seed=2, planted_share=0.1)
    texts = {item.id: item.text for item in corpus.items}
    assert all(80 <= len(texts[item]) <= 220 for item, _, kind in corpus.planted if kind == "half")
    copies = {tuple(sorted((a, b))) for a, b, kind in corpus.planted if kind == "copy"}
    halves = [(a, b) for a, b, kind in corpus.planted if kind == "half"]
    assert len(copies) == len(halves) == 20
    truth = near_duplicate_truth(corpus.items)
    assert copies <= truth  # a near-copy keeps most of its original's words
    assert all(HALF_SHARES[0] <= word_share(texts[a], texts[b]) <= HALF_SHARES[1] for a, b in halves)
    assert not {tuple(sorted(h)) for h in halves} & truth
    # a report that finds every copy and calls one half-overlap a near-duplicate at its own share
    (half, original) = halves[0]
    found = [{"articles": list(pair), "kind": "near_duplicate", "containment": {}} for pair in sorted(copies)]
    wrong = {"articles": sorted((half, original)), "kind": "near_duplicate"}
    wrong["containment"] = {half: share_of(texts[half], texts[original]), original: 0.2}
    scores = score_short({"duplicates": [*found, wrong], "groups": []}, corpus)
    assert scores["near-duplicate recall"] == len(copies & truth) / len(truth)
    assert scores["near-duplicate precision"] == len(copies) / (len(copies) + 1)
    assert scores["half-overlaps reported"] == 1 / len(halves)
    assert scores["half-overlaps as partial_reuse within 0.1"] == 0.0
