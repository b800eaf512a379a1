"""Worker processes change how fast a run is, never what it finds."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest

from clustering import duplicates
from clustering.duplicates import find_candidates, find_duplicates
from clustering.story import term_hashes
from clustering.threads import (
    all_label_terms,
    all_label_terms_hashed,
    label_terms,
)
from clustering.verify import PassageTerms
from corpus import parallel
from corpus.parallel import WORKERS_ENV, default_workers, map_chunks
from corpus.prepare import CHUNK, prepare_articles
from embeddings import encoders
from embeddings.encoders import LexicalEncoder
from tests.batch import text_vectors


@pytest.fixture(autouse=True)
def small_batches_go_to_workers(monkeypatch) -> None:
    """The real thresholds keep test-sized batches in process; these tests want the worker path."""
    monkeypatch.setattr(parallel, "PARALLEL_MIN_CHARS", 1000)
    monkeypatch.setattr(encoders, "PARALLEL_MIN_TEXTS", 128)
    monkeypatch.setattr(duplicates, "PARALLEL_MIN_CANDIDATES", 100)
    monkeypatch.setattr(duplicates, "VERIFY_CHUNK", 500)


@pytest.fixture(scope="module")
def many_articles(seed_prepared):
    """Enough articles (the seeds, many times over, from two sources) to be split among workers."""
    seeds = [p.article for p in seed_prepared]
    copies = 2 * CHUNK + 10
    return [
        replace(seeds[i % len(seeds)], id=f"{i:04d}-{seeds[i % len(seeds)].id}", source=f"site-{i % 2}")
        for i in range(copies)
    ]


def test_preparing_in_worker_processes_gives_the_same_articles(many_articles) -> None:
    alone = prepare_articles(many_articles, workers=1)
    shared = prepare_articles(many_articles, workers=2)
    assert shared == alone
    # lines a source repeats across its articles are counted over all chunks, not per worker
    assert any(p.boilerplate == "repeated by its source across articles" for a in shared for p in a.paragraphs)


def test_tokenising_in_worker_processes_gives_the_same_terms(many_articles) -> None:
    prepared = prepare_articles(many_articles, workers=1)
    alone, shared = PassageTerms(prepared, 2, workers=1), PassageTerms(prepared, 2, workers=2)
    assert len(alone) == len(shared) == sum(len(a.passages) for a in prepared)
    names_alone, names_shared = list(alone.ids), list(shared.ids)
    for index in range(0, len(alone), 37):
        terms = [names_alone[t] for t in alone.terms_of(index)]
        assert terms and terms == [names_shared[t] for t in shared.terms_of(index)]
        assert alone.span_of(index, 0) == shared.span_of(index, 0)
        assert [alone.weights[t] for t in alone.terms_of(index)] == pytest.approx(
            [shared.weights[t] for t in shared.terms_of(index)]
        )


def test_verifying_in_worker_processes_gives_the_same_pairs(many_articles) -> None:
    prepared = prepare_articles(many_articles, workers=1)
    passages, _ = text_vectors(prepared, LexicalEncoder(workers=1))
    candidates = find_candidates(prepared, passages, LexicalEncoder().candidate_threshold)
    assert len(candidates) > 2 * duplicates.VERIFY_CHUNK
    alone = find_duplicates(prepared, passages, candidates, workers=1)
    shared = find_duplicates(prepared, passages, candidates, workers=2)
    assert alone and shared == alone


def test_label_terms_from_worker_processes_are_the_same(many_articles) -> None:
    prepared = prepare_articles(many_articles, workers=1)
    expected = [label_terms(article) for article in prepared]
    assert all_label_terms(prepared, workers=2) == all_label_terms(prepared, workers=1) == expected
    assert any(expected)
    # the story vectors' term hashes from a worker are the ones this process computes
    _, hashes = all_label_terms_hashed(prepared, workers=2)
    assert all(np.array_equal(found, term_hashes(terms)) for found, terms in zip(hashes, expected, strict=True))


def test_encoding_in_worker_processes_gives_the_same_vectors(seed_prepared) -> None:
    texts = [p.text for a in seed_prepared for p in a.passages] * 40
    encoder = LexicalEncoder(batch_size=64)
    assert len(texts) > 2 * encoder.batch_size
    alone = LexicalEncoder(batch_size=64, workers=1).encode(texts)
    shared = LexicalEncoder(batch_size=64, workers=2).encode(texts)
    np.testing.assert_array_equal(alone, shared)


def _lengths(chunk: list[str]) -> list[int]:
    return [len(text) for text in chunk]


def _process(chunk: list[str]) -> int:
    return os.getpid()


def test_chunks_come_back_in_order_and_small_inputs_stay_in_process() -> None:
    items = [str(i) * (i % 7 + 1) for i in range(100)]
    assert map_chunks(_lengths, items, 10, workers=2) == [_lengths(items[i : i + 10]) for i in range(0, 100, 10)]
    assert map_chunks(_lengths, [], 10, workers=2) == []
    assert set(map_chunks(_process, items, 10, workers=2)) - {os.getpid()}, "no chunk ran in a worker process"
    assert set(map_chunks(_process, items, 10, workers=1)) == {os.getpid()}
    assert set(map_chunks(_process, items, 10, workers=2, in_process=True)) == {os.getpid()}
    with pytest.raises(ValueError, match="chunk_size must be at least 1, got 0"):
        map_chunks(_lengths, items, 0)


def test_the_worker_count_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert default_workers() == 3
    monkeypatch.setenv(WORKERS_ENV, "many")
    with pytest.raises(ValueError, match=r"STORYTHREADS_WORKERS must be a whole number of processes, got 'many'"):
        default_workers()
    monkeypatch.setenv(WORKERS_ENV, "0")
    with pytest.raises(ValueError, match="at least 1, got 0"):
        default_workers()


def _run_in_child(sender) -> None:
    items = [str(i) for i in range(100)]
    sender.send(set(map_chunks(_process, items, 10, workers=2)) - {os.getpid()})
    sender.close()


def test_a_run_inside_a_multiprocessing_child_exits_when_done() -> None:
    # a process that multiprocessing started joins its children on exit: idle workers must not keep it alive
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_run_in_child, args=(sender,))
    child.start()
    sender.close()
    assert receiver.recv(), "no chunk ran in a worker process of the child"
    child.join(timeout=60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive, "the child was still waiting on its worker processes a minute after its work was done"
    assert child.exitcode == 0
