"""Where the parallel steps run changes how fast a run is, never what it finds.

The cluster here is real: a Dask scheduler and two worker processes on loopback, each started as
a separate process (`scripts/start-dask-cluster.sh`), as workers on other machines would be.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.corpus import generate
from clustering import duplicates
from clustering.duplicates import find_candidates, find_duplicates
from clustering.verify import PassageTerms
from corpus.prepare import CHUNK, prepare_articles
from embeddings.encoders import LexicalEncoder
from executor import IN_PROCESS, PAUSE_ENV, map_chunks
from executor.dask import ClusterUnreachable, DaskExecutor, check_address
from night.settings import ExecutorSettings, NightSettings
from tests.batch import analyse, text_vectors
from tests.conftest import generator_texts


@pytest.fixture(scope="module")
def on_cluster(dask_cluster):
    executor = DaskExecutor(dask_cluster)
    yield executor
    executor.close()


@pytest.fixture(scope="module")
def many_articles(seed_prepared):
    """Enough articles (the seeds, many times over, from two sources) to be split into many chunks."""
    seeds = [p.article for p in seed_prepared]
    copies = 2 * CHUNK + 10
    return [
        replace(seeds[i % len(seeds)], id=f"{i:04d}-{seeds[i % len(seeds)].id}", source=f"site-{i % 2}")
        for i in range(copies)
    ]


def _process(chunk: list[str]) -> int:
    return os.getpid()


def _lengths(chunk: list[str], extra: int = 0) -> list[int]:
    return [len(text) + extra for text in chunk]


def test_chunks_run_on_the_workers_and_come_back_in_order(on_cluster) -> None:
    items = [str(i) * (i % 7 + 1) for i in range(100)]
    expected = [_lengths(items[i : i + 10]) for i in range(0, 100, 10)]
    assert map_chunks(on_cluster, _lengths, items, 10) == expected
    assert on_cluster.map(_lengths, [items[:3], items[3:5]], shared=1) == [[2, 3, 4], [5, 6]]
    ran_in = set(map_chunks(on_cluster, _process, items, 10))
    assert ran_in <= set(on_cluster.worker_pids().values()) and os.getpid() not in ran_in
    assert set(map_chunks(IN_PROCESS, _process, items, 10)) == {os.getpid()}
    assert set(map_chunks(None, _process, items, 10)) == {os.getpid()}
    with pytest.raises(ValueError, match="chunk_size must be at least 1, got 0"):
        map_chunks(on_cluster, _lengths, items, 0)


def test_preparing_on_the_cluster_gives_the_same_articles(many_articles, on_cluster) -> None:
    alone = prepare_articles(many_articles)
    shared = prepare_articles(many_articles, executor=on_cluster)
    assert shared == alone
    # lines a source repeats across its articles are counted over all chunks, not per worker
    assert any(p.boilerplate == "repeated by its source across articles" for a in shared for p in a.paragraphs)


def test_tokenising_on_the_cluster_gives_the_same_terms(many_articles, on_cluster) -> None:
    prepared = prepare_articles(many_articles)
    alone, shared = PassageTerms(prepared, 2), PassageTerms(prepared, 2, on_cluster)
    assert len(alone) == len(shared) == sum(len(a.passages) for a in prepared)
    names_alone, names_shared = list(alone.ids), list(shared.ids)
    for index in range(0, len(alone), 37):
        terms = [names_alone[t] for t in alone.terms_of(index)]
        assert terms and terms == [names_shared[t] for t in shared.terms_of(index)]
        assert alone.span_of(index, 0) == shared.span_of(index, 0)
        assert [alone.weights[t] for t in alone.terms_of(index)] == pytest.approx(
            [shared.weights[t] for t in shared.terms_of(index)]
        )


def test_verifying_on_the_cluster_gives_the_same_pairs(many_articles, on_cluster, monkeypatch) -> None:
    monkeypatch.setattr(duplicates, "VERIFY_CHUNK", 500)
    prepared = prepare_articles(many_articles)
    passages, _ = text_vectors(prepared, LexicalEncoder())
    candidates = find_candidates(prepared, passages, LexicalEncoder().candidate_threshold)
    assert len(candidates) > 2 * duplicates.VERIFY_CHUNK
    alone = find_duplicates(prepared, passages, candidates)
    shared = find_duplicates(prepared, passages, candidates, executor=on_cluster)
    assert alone and shared == alone


def test_lexical_vectors_from_the_cluster_are_the_same(seed_prepared, on_cluster) -> None:
    texts = [p.text for a in seed_prepared for p in a.passages] * 40
    encoder = LexicalEncoder(batch_size=64)
    np.testing.assert_array_equal(encoder.encode_on(on_cluster, texts), encoder.encode(texts))


def _generated(count: int, seed: int):
    return generate(generator_texts(), count, seed=seed, copy_share=0.2).articles


def _findings(night) -> tuple[set, dict]:
    pairs = {(p.article_a, p.article_b, p.kind.value, round(p.score, 6)) for p in night.pairs}
    threads = {article: thread["id"] for thread in night.report["threads"] for article in thread["articles"]}
    return pairs, threads


def _task_prefixes(address: str) -> set[str]:
    from distributed import Client

    with Client(address, set_as_default=False) as client:
        return set(client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes)))


def test_a_night_on_the_cluster_finds_what_a_night_in_one_process_finds(dask_cluster, monkeypatch) -> None:
    monkeypatch.setattr(duplicates, "VERIFY_CHUNK", 200)
    articles = _generated(300, seed=5)
    encoder = LexicalEncoder(batch_size=256)  # several batches of texts to hash
    local = analyse(articles, NightSettings(executor=ExecutorSettings(workers=0)), encoder)
    on_cluster = NightSettings(executor=ExecutorSettings(dask_cluster, parallel_from_chars=0))
    clustered = analyse(articles, on_cluster, encoder)
    assert local.pairs and local.report["threads"]
    assert _findings(clustered) == _findings(local)
    # every parallel step ran there: preparing, hashing, tokenising, verifying
    assert {"prepare_jobs", "verify_chunk"} <= _task_prefixes(dask_cluster)


def _set_environment(name: str, value: str | None) -> None:
    """Set (or, with None, remove) a variable in the environment of the process this runs in."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def test_a_worker_killed_during_verification_loses_nothing(dask_cluster, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(duplicates, "VERIFY_CHUNK", 200)
    articles = _generated(300, seed=6)
    local = analyse(articles, NightSettings(executor=ExecutorSettings(workers=0)))
    marker = tmp_path / "paused-worker"
    executor = DaskExecutor(dask_cluster)
    before = executor.worker_pids()
    # the first worker to start verifying a chunk writes its pid and waits: killed there, mid-chunk
    executor.client.run(_set_environment, PAUSE_ENV, f"verify chunk:{marker}")
    killed: list[int] = []

    def kill_the_paused_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (marker.exists() and marker.read_text()):
            time.sleep(0.02)
        if marker.exists():
            killed.append(int(marker.read_text()))
            os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_paused_worker, daemon=True)
    killer.start()
    try:
        clustered = analyse(articles, NightSettings(executor=ExecutorSettings(dask_cluster, parallel_from_chars=0)))
    finally:
        killer.join(timeout=5)
        executor.client.run(_set_environment, PAUSE_ENV, None)
        executor.close()
    assert killed and killed[0] in before.values(), "no worker was killed during verification"
    assert _findings(clustered) == _findings(local)


def test_worker_counts_mean_processes_and_zero_means_the_runs_own() -> None:
    assert ExecutorSettings(workers=0).in_process_only
    assert not ExecutorSettings(workers=1).in_process_only  # one worker process is still a cluster
    assert not ExecutorSettings("tcp://127.0.0.1:8786", workers=0).in_process_only
    with pytest.raises(ValueError, match="workers must be 0 .* or more, got -1"):
        ExecutorSettings(workers=-1)


def test_a_cluster_that_does_not_answer_is_named(tmp_path: Path) -> None:
    with pytest.raises(ClusterUnreachable, match=r"no Dask scheduler answered at tcp://127\.0\.0\.1:9 within"):
        DaskExecutor("tcp://127.0.0.1:9").client.wait_for_workers(1)
    with pytest.raises(ValueError, match=r"looks like tcp://HOST:8786, got '127\.0\.0\.1:8786'"):
        check_address("127.0.0.1:8786")
