"""The scale benchmark runs end to end on a small corpus and reports what it promises."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.perf import Truth, benchmark, median_turn, speed_ratios, stage_growth
from night.stages import STAGE_NAMES
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


def test_turns_are_summed_up_by_their_median() -> None:
    turns = [{"total_seconds": 30.0, "turn": 1}, {"total_seconds": 10.0, "turn": 2}, {"total_seconds": 20.0, "turn": 3}]
    assert median_turn(turns) == {"total_seconds": 20.0, "turn": 3, "turn_seconds": [30.0, 10.0, 20.0]}
    # a ratio per turn (ours and theirs ran back to back), then the median of the ratios
    assert speed_ratios([10.0, 20.0, 40.0], [20.0, 20.0, 20.0]) == {"per_turn": [2.0, 1.0, 0.5], "median": 1.0}
    with pytest.raises(ValueError, match="one timing of each per turn"):
        speed_ratios([10.0], [])


def test_each_stage_s_growth_is_its_time_over_the_smaller_run_s() -> None:
    smaller = {"night_1": {"seconds": {"prepare": 2.0, "search": 1.0, "tiny": 0.01}, "total_seconds": 10.0}}
    larger = {"night_1": {"seconds": {"prepare": 20.0, "search": 25.0, "tiny": 1.0}, "total_seconds": 150.0}}
    # a stage too short to time at the smaller size has no growth to show
    assert stage_growth(larger, smaller) == {"prepare": 10.0, "search": 25.0, "whole run": 15.0}


def test_perf_benchmark_runs_both_nights_and_finds_the_planted_copies(tmp_path: Path) -> None:
    args = argparse.Namespace(
        articles=120,
        new_share=0.05,
        documents=SEEDS,
        seed=2,
        peer_threshold=0.3,
        no_peer=False,
        repeats=1,
        no_second_night=False,
        work=tmp_path / "work",
        keep=False,
        workers=[],
        encoder="lexical",
    )
    result = benchmark(args)
    first, second = result["night_1"], result["night_2"]
    # the stage split is the run's own, from its report.json; the rest is start-up, Prefect and output
    assert list(first["seconds"]) == list(STAGE_NAMES)
    assert 0 < sum(first["seconds"].values()) < first["total_seconds"]
    assert first["outside_stages_seconds"] > 0 and first["peak_with_workers_mib"] > 50
    # verbatim copies are analysed through their group's representative
    assert first["window"] == 120 and first["fresh"] + sum(len(g) - 1 for g in first["groups"]) == 120
    assert second["fresh"] >= 5
    assert second["texts_embedded"] < first["texts_embedded"]
    assert first["quality"]["recall"] >= 0.9 and first["quality"]["precision"] >= 0.9
    # both MinHash peers ran on the same night, as new processes, and found the verbatim copies too
    assert set(result["peers"]) == {"datasketch", "rensa"} and result["peer"] == result["peers"]["datasketch"]
    for library, found in result["peers"].items():
        assert found["quality"]["recall"] >= 0.5, library
        assert result["speed"][library]["median"] == found["total_seconds"] / first["total_seconds"]
    assert not (tmp_path / "work").exists()


def test_storm_benchmark_puts_every_copy_in_its_seeds_group(tmp_path: Path) -> None:
    from bench.perf import storm

    args = argparse.Namespace(
        articles=60, documents=SEEDS, seed=3, work=tmp_path / "work", keep=False, storm_copies=50, storm_distinct=20
    )
    result = storm(args)
    stormy = result["storm"]
    assert stormy["every_copy_in_its_group"] and stormy["copies_grouped"] == {
        seed: 10 for seed in stormy["copies_grouped"]
    }
    # five groups of ten copies (the distinct articles hold a planted verbatim copy or two as well)
    assert sorted(stormy["groups"])[-5:] == [10] * 5 and stormy["fresh"] <= 5 + 20
    assert result["distinct"]["window"] == 60 and stormy["total_seconds"] > 0


def test_quality_bench_scores_exactly_the_pairs_a_plain_storythreads_run_reports(
    pan_corpus: Path, tmp_path_factory
) -> None:
    import json
    import subprocess

    from bench.quality import run_ours
    from bench.run import STORYTHREADS

    work = tmp_path_factory.mktemp("runs")  # beside the corpus folder, never inside it
    bench_run = run_ours(pan_corpus, work / "bench")
    home, output = work / "plain-home", work / "plain-report"
    subprocess.run(
        [
            str(STORYTHREADS),
            "run",
            str(pan_corpus),
            "--home",
            str(home),
            "--output",
            str(output),
            "--encoder",
            "lexical",
        ],
        check=True,
        capture_output=True,
    )
    plain = json.loads((output / "report.json").read_text(encoding="utf-8"))
    plain_pairs = {tuple(pair["articles"]) for pair in plain["duplicates"]}
    assert plain_pairs, "the small corpus must have a pair for this to mean anything"
    assert set(bench_run.pairs) == plain_pairs
    assert list(bench_run.stages) == list(plain["run"]["stages"])
    # read while Prefect's server booted, yet counted as the read stage's, not hidden outside the stages
    assert plain["run"]["stages"]["read articles"] > 0


def test_the_profile_puts_each_sample_under_its_stage_the_server_or_the_workers() -> None:
    from bench.profile import OUTSIDE, SERVER, WORKERS, aggregate

    run = 'process 10:"python storythreads run night"'
    raw = [
        f"{run};main (flows/cli.py:1);run_stage (run.py:42);verify (stages.py:169);verify_fresh (steps.py:9) 40",
        f"{run};main (flows/cli.py:1);run_stage (run.py:42);verify (stages.py:169) 2",
        f"{run};main (flows/cli.py:1);run_stage (run.py:42);thread (stages.py:178);group_articles (threads.py:3) 7",
        f"{run};main (flows/cli.py:1);import_module (importlib/__init__.py:1) 5",
        f'{run};process 11:"python -m uvicorn prefect.server";serve (uvicorn/server.py:1) 3',
        f'{run};process 12:"python -c from multiprocessing.spawn import spawn_main";verify_chunk (duplicates.py:1) 9',
    ]
    parts = aggregate(raw)
    samples = {part: found["total"]["samples"] for part, found in parts.items()}
    assert samples == {"verify duplicates": 42, "find story threads": 7, OUTSIDE: 5, SERVER: 3, WORKERS: 9}
    assert parts["verify duplicates"]["inclusive"]["verify_fresh (steps.py)"] == 40
    assert "main (flows/cli.py)" not in parts["verify duplicates"]["inclusive"]  # only what is below the stage
    assert parts[WORKERS]["self"]["verify_chunk (duplicates.py)"] == 9


def test_stories_bench_takes_the_articles_in_night_by_night_oldest_first(tmp_path: Path) -> None:
    import json
    from datetime import datetime

    from bench.quality import run_nights
    from tests.stream import article, night, vocabulary

    start = datetime(2026, 11, 1)
    stories = {"flood": vocabulary(41, size=50), "fire": vocabulary(42, size=50)}
    corpus = tmp_path / "stories"
    corpus.mkdir()
    for story, words in stories.items():
        for i in range(4):
            # named so that the files' order is not the days' order
            item = article(f"{story}{i}", words, night(start, 1 - i // 2), 60 + 10 * len(story) + i)
            record = {"title": item.title, "maintext": item.text, "date_publish": item.published_at.isoformat()}
            (corpus / f"{item.id}.json").write_text(json.dumps(record), encoding="utf-8")
    last, nights = run_nights(corpus, tmp_path / "work", 2)
    assert [n["seconds"] > 0 for n in nights] == [True, True]
    assert last.report["run"]["articles_in_window"] == 8 and last.report["run"]["articles_analysed"] == 4
    # the day before first (flood2, flood3, fire2, fire3: two new threads), then each story grows
    assert {a for thread in last.report["threads"] for a in thread["articles"]} >= {"flood0", "fire0"}
    assert nights[0]["new_threads"] == 2
    assert (nights[1]["new_threads"], nights[1]["grown_threads"], nights[1]["splits"]) == (0, 2, 0)
    assert len({last.threads[f"flood{i}"] for i in range(4)}) == 1 and last.threads["fire0"] != last.threads["flood0"]
