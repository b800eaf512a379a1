"""The benchmark's scorers on tiny hand-made cases."""

from __future__ import annotations

import pytest

from bench.scoring import bcubed, cluster_scores, pair_scores, with_singletons

TRUTH = [("s1", "a"), ("s2", "b"), ("s3", "c"), ("s4", "d")]


def test_perfect_pairs_score_one() -> None:
    score = pair_scores([("a", "s1"), ("s2", "b"), ("c", "s3"), ("s4", "d")], TRUTH)
    assert (score.precision, score.recall, score.f1) == (1.0, 1.0, 1.0)


def test_empty_prediction_scores_zero() -> None:
    score = pair_scores([], TRUTH)
    assert (score.precision, score.recall, score.f1) == (0.0, 0.0, 0.0)


def test_mixed_pairs_hand_computed() -> None:
    # 3 predicted, 2 of them true: P = 2/3; 2 of 4 true found: R = 1/2; F1 = 2PR/(P+R) = 4/7
    score = pair_scores([("s1", "a"), ("b", "s2"), ("s1", "b")], TRUTH)
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == pytest.approx(1 / 2)
    assert score.f1 == pytest.approx(4 / 7)


def test_bcubed_perfect_and_all_apart() -> None:
    gold = {"a": 1, "b": 1, "c": 2, "d": 2}
    assert bcubed({"a": "x", "b": "x", "c": "y", "d": "y"}, gold) == (1.0, 1.0, 1.0)
    precision, recall, f1 = bcubed({"a": 1, "b": 2, "c": 3, "d": 4}, gold)
    assert (precision, recall) == (1.0, 0.5) and f1 == pytest.approx(2 / 3)


def test_bcubed_mixed_hand_computed() -> None:
    # gold {a,b,c} {d}; predicted {a,b} {c,d}
    # precision: a 1, b 1, c 1/2, d 1/2 -> 3/4; recall: a 2/3, b 2/3, c 1/3, d 1 -> 2/3
    precision, recall, f1 = bcubed({"a": 1, "b": 1, "c": 2, "d": 2}, {"a": "g", "b": "g", "c": "g", "d": "h"})
    assert precision == pytest.approx(3 / 4)
    assert recall == pytest.approx(2 / 3)
    assert f1 == pytest.approx(2 * (3 / 4) * (2 / 3) / (3 / 4 + 2 / 3))


def test_cluster_scores_and_singletons() -> None:
    gold = {"a": 1, "b": 1, "c": 2}
    predicted = with_singletons({"a": "t1", "b": "t1"}, gold)
    score = cluster_scores(predicted, gold)
    assert (score.f1, score.adjusted_rand, score.clusters) == (1.0, 1.0, 2)
    with pytest.raises(ValueError, match="no predicted cluster"):
        bcubed({"a": 1}, gold)


def test_timings_are_compared_turn_by_turn_and_uneven_lists_are_refused() -> None:
    from bench.quality import turn_ratios

    assert turn_ratios([10.0, 12.0, 9.0], [20.0, 12.0, 6.0]) == [0.5, 1.0, 1.5]
    with pytest.raises(ValueError, match="2 timings of ours and 1 of datasketch"):
        turn_ratios([1.0, 2.0], [1.0])


def test_similarity_pairs_count_as_together_through_a_thread_or_a_duplicate_pair() -> None:
    from bench.similarity import together_rates

    report = {
        "threads": [{"id": "t-1", "articles": ["a", "b"]}],
        "duplicates": [{"articles": ["c", "d"]}],
    }
    pairs = [
        ["a", "b", 1.0, "en-en"],  # same thread
        ["c", "d", 2.0, "de-en"],  # a duplicate pair, across languages
        ["a", "c", 4.0, "en-en"],  # apart
        ["b", "d", 2.5, "en-de"],  # neither same nor different: left out
        ["e", "f", 3.0, "de-en"],  # unthreaded articles are never together
    ]
    assert together_rates(report, pairs) == {
        "cross-lingual different": {"together": 0.0, "pairs": 1},
        "cross-lingual same": {"together": 1.0, "pairs": 1},
        "monolingual different": {"together": 0.0, "pairs": 1},
        "monolingual same": {"together": 1.0, "pairs": 1},
    }


def test_separation_keeps_at_most_the_asked_share_of_different_pairs_and_counts_reported_pairs_as_together() -> None:
    import numpy as np

    from bench.separability import pair_cosines, separation

    unit = {
        name: np.array(vector, dtype=float)
        for name, vector in {
            "a": [1.0, 0.0],
            "b": [0.8, 0.6],
            "c": [0.0, 1.0],
            "d": [0.6, 0.8],
            "e": [-1.0, 0.0],
        }.items()
    }
    pairs = [
        ["a", "b", 1.0, "en-en"],  # cosine 0.8, same story
        ["c", "d", 1.5, "en-en"],  # 0.8, same
        ["a", "c", 2.0, "en-en"],  # 0.0, same
        ["a", "d", 4.0, "en-en"],  # 0.6, different
        ["b", "e", 3.0, "en-en"],  # -0.8, different
        ["a", "e", 2.5, "en-en"],  # left out
    ]
    cosines = pair_cosines(unit, pairs)["monolingual"]
    assert sorted(cosines["same"].round(3)) == [0.0, 0.8, 0.8] and sorted(cosines["different"].round(3)) == [-0.8, 0.6]
    found = separation(cosines["same"], cosines["different"], [0.0, 0.5])
    # with no different-story pair at or above it, the cut is above 0.6: two of three same-story pairs pass
    assert found["same-story at different 0.00"] == pytest.approx(2 / 3, abs=1e-3)
    # letting one of the two different-story pairs in (0.6), the cut falls to the lowest same-story pair
    assert found["cosine at different 0.50"] == pytest.approx(0.0, abs=1e-9)
    assert found["same-story at different 0.50"] == 1.0
    # a reported duplicate pair is together at any cut
    reported = pair_cosines(unit, pairs, {frozenset(("a", "d"))})["monolingual"]
    assert separation(reported["same"], reported["different"], [0.0])["same-story at different 0.00"] == 0.0
