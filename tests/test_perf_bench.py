"""The scale benchmark runs end to end on a small corpus and reports what it promises."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.perf import NIGHT_STAGES, Truth, benchmark
from tests.conftest import SEEDS


def test_truth_scoring_counts_planted_pairs_and_ignores_sibling_copies() -> None:
    truth = Truth.from_corpus(
        [("c1", "a", "verbatim"), ("c2", "a", "partial"), ("c3", "b", "quote")], {"a", "b", "c1", "c2", "c3"}
    )
    # c1-c2 are two copies of one original: neither right nor wrong; a-b is a false pair
    scores = truth.score([("a", "c1"), ("c2", "a"), ("c1", "c2"), ("a", "b")])
    assert scores["predicted"] == 3
    assert scores["precision"] == 2 / 3
    assert scores["recall"] == 2 / 3
    assert Truth.from_corpus([("c1", "a", "verbatim")], {"a", "c1"}).score([]) == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "predicted": 0,
    }


def test_perf_benchmark_runs_both_nights_and_finds_the_planted_copies(tmp_path: Path) -> None:
    args = argparse.Namespace(
        articles=120,
        new_share=0.05,
        documents=SEEDS,
        seed=2,
        peer_threshold=0.3,
        exact_sample=20,
        no_peer=True,
        no_second_night=False,
        work=tmp_path / "work",
        keep=False,
    )
    result = benchmark(args)
    first, second = result["night_1"], result["night_2"]
    assert set(first["seconds"]) == set(NIGHT_STAGES)
    assert first["fresh"] == 120 and second["fresh"] == 6
    assert second["texts_embedded"] < first["texts_embedded"]
    assert first["quality"]["recall"] >= 0.9 and first["quality"]["precision"] >= 0.9
    assert first["index_check"]["verified_recall"] == 1.0
    assert not (tmp_path / "work").exists()
