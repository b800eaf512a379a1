"""The approximate (IVF) index path finds the same verified pairs as exact search on a small corpus."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from clustering.duplicates import find_candidates, find_duplicates
from corpus.prepare import prepare_articles
from corpus.readers import read_articles
from embeddings.encoders import LexicalEncoder
from tests.batch import text_vectors
from tests.conftest import SEEDS
from tests.stream import article, vocabulary


def _corpus() -> list:
    seeds = read_articles([SEEDS]).articles
    seed = itertools.count(1)
    stories = [article(f"s{i}", vocabulary(i % 7), datetime(2026, 11, 1 + i % 20), next(seed)) for i in range(60)]
    rng = random.Random(7)
    copies = []
    for original in rng.sample(stories + seeds, 12):
        paragraphs = original.text.split("\n")
        rng.shuffle(paragraphs)
        copies.append(replace(original, id=f"copy-of-{original.id}", text="\n".join(paragraphs[:3])))
    return seeds + stories + copies


def test_ivf_index_finds_the_same_verified_pairs_as_exact_search() -> None:
    encoder = LexicalEncoder()
    prepared = prepare_articles(_corpus())
    passages, quotes = text_vectors(prepared, encoder)
    found = {}
    for name, limit in (("exact", 10**9), ("ivf", 50)):
        candidates = find_candidates(prepared, passages, encoder.candidate_threshold, exact_limit=limit)
        pairs = find_duplicates(prepared, passages, candidates, quotes, encoder.candidate_threshold)
        found[name] = {(p.article_a, p.article_b, p.kind) for p in pairs}
    assert len(passages) > 50, "the IVF path must really be taken"
    planted = {a.article.id for a in prepared if a.article.id.startswith("copy-of-")}
    paired = {frozenset((a, b)) for a, b, _ in found["exact"]}
    assert {frozenset((c, c.removeprefix("copy-of-"))) for c in planted} <= paired, "every planted copy is found"
    assert found["ivf"] == found["exact"]


def test_nightly_run_on_an_ivf_index_file_finds_the_same_pairs_as_on_an_exact_one(tmp_path) -> None:
    from night.run import run_night
    from night.settings import NightSettings
    from store import Store

    found = {}
    for name, limit in (("exact", 10**9), ("ivf", 50)):
        with Store.open(tmp_path / name, None) as store:
            night = run_night(
                store, _corpus(), LexicalEncoder(), "r1", datetime(2026, 12, 1), NightSettings(exact_limit=limit)
            )
            found[name] = {(p.article_a, p.article_b, p.kind) for p in night.pairs}
            assert store.vector_count(LexicalEncoder().name, "passage") > 50, "the IVF path must really be taken"
    assert len(found["exact"]) >= 12
    assert found["ivf"] == found["exact"]


def test_later_nights_write_only_a_tail_to_an_ivf_index_file_and_find_what_one_index_would(
    tmp_path, monkeypatch
) -> None:
    from embeddings import index as index_module
    from night.run import run_night
    from night.search import index_path
    from night.settings import NightSettings
    from store import Store

    corpus = _corpus()
    nights = [corpus[:40], corpus[:60], corpus]  # the same articles arriving over three nights
    found: dict[str, list[set]] = {}
    for name, limit in (("exact", 10**9), ("ivf", 50)):
        with Store.open(tmp_path / name, None) as store:
            main_file = Path(index_path(store, LexicalEncoder(), "passage"))
            for number, articles in enumerate(nights, 1):
                # night 2's tail stays a tail; on night 3 it is past its share and is folded into the main file
                monkeypatch.setattr(index_module, "TAIL_SHARE", 1.0 if number == 2 else 0.1)
                before = main_file.stat().st_mtime_ns if main_file.exists() else None
                night = run_night(
                    store,
                    articles,
                    LexicalEncoder(),
                    f"r{number}",
                    datetime(2026, 12, number),
                    NightSettings(exact_limit=limit),
                )
                found.setdefault(name, []).append({(p.article_a, p.article_b, p.kind) for p in night.pairs})
                tails = sorted(main_file.parent.glob("*.passage.tail-*.faiss"))
                if name == "ivf" and number == 2:
                    assert main_file.stat().st_mtime_ns == before, "the main file is not written again"
                    assert len(tails) == 1, "the night's vectors went to one tail file"
            if name == "ivf":
                assert not tails and main_file.stat().st_mtime_ns != before, "a tail grown past its share is folded in"
    assert found["ivf"] == found["exact"]


def test_an_ivf_index_searches_as_many_lists_as_its_vectors_need_however_they_arrived(tmp_path) -> None:
    """Built from the store in batches (trained on the first), or grown night by night through a tail, an index
    probes the lists its whole size calls for (`probes_for`): not the more lists a sample of it would."""
    import faiss
    import numpy as np

    from embeddings.index import StoredIndex, probes_for

    vectors = np.random.default_rng(5).standard_normal((36_000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, len(vectors) + 1)

    def batches_after(skip: int, upto: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (ids[start : min(start + 2_000, upto)], vectors[start : min(start + 2_000, upto)])
            for start in range(skip, upto, 2_000)
        ]

    path = tmp_path / "passage.faiss"
    first = StoredIndex.sync(path, 16, 30_000, lambda skip: iter(batches_after(skip, 30_000)), exact_limit=1_000)
    first.save()
    lists = faiss.extract_index_ivf(first._index).nlist
    grown = StoredIndex.sync(path, 16, 36_000, lambda skip: iter(batches_after(skip, 36_000)), exact_limit=1_000)
    for index, count in ((first, 30_000), (grown, 36_000)):
        hits = index.hits(vectors[:50], 0.999)
        assert set(zip(hits.rows.tolist(), hits.ids.tolist(), strict=True)) >= {(row, row + 1) for row in range(50)}
        probes = {faiss.extract_index_ivf(part).nprobe for part in index._parts()}
        assert probes == {probes_for(lists, count)} and probes_for(lists, count) < probes_for(lists, 2_000)


def test_the_list_by_list_search_finds_what_faiss_range_search_finds() -> None:
    """Same lists, same probes, same hits (and similarities) as FAISS's own range search, query by query; each
    query with its own threshold; on residual-coded lists."""
    import numpy as np

    from embeddings.index import _trained_ivf, range_search_by_list

    rng = np.random.default_rng(8)
    centres = rng.standard_normal((40, 32)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, 6_000)] + 0.6 * rng.standard_normal((6_000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = _trained_ivf(vectors, lists=64)
    index.add_with_ids(vectors, np.arange(6_000, dtype=np.int64) * 3 + 7)
    assert index.by_residual
    queries = vectors[:500]
    thresholds = np.where(np.arange(500) % 3 == 0, 0.5, 0.8).astype(np.float32)
    found = range_search_by_list(index, queries, thresholds)
    expected = {}
    for row in range(500):
        lims, sims, ids = index.range_search(queries[row : row + 1], float(thresholds[row]))
        expected.update({(row, int(i)): float(s) for i, s in zip(ids, sims, strict=True)})
    got = {(int(r), int(i)): float(s) for r, i, s in zip(found.rows, found.ids, found.similarity, strict=True)}
    assert len(expected) > 5_000 and got.keys() == expected.keys()
    assert max(abs(got[key] - expected[key]) for key in got) < 1e-5


def test_vectors_added_tonight_search_through_the_lists_they_were_added_to_and_find_what_a_fresh_routing_finds(
    tmp_path,
) -> None:
    """A night adds its vectors and searches with them: the lists each was routed to when added are reused for
    its search (no second pass over the centroids), on the main index and on a later night's tail alike, and
    the hits are those of routing every query afresh, and of FAISS's own add and range search."""
    import faiss
    import numpy as np

    from embeddings.index import StoredIndex

    rng = np.random.default_rng(11)
    centres = rng.standard_normal((60, 16)).astype(np.float32)
    vectors = centres[rng.integers(0, 60, 30_000)] + 0.5 * rng.standard_normal((30_000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64) * 2

    def batches_after(skip: int, upto: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(ids[s : min(s + 3_000, upto)], vectors[s : min(s + 3_000, upto)]) for s in range(skip, upto, 3_000)]

    path = tmp_path / "passage.faiss"
    first = StoredIndex.sync(path, 16, 28_000, lambda skip: iter(batches_after(skip, 28_000)), exact_limit=1_000)
    first.save()
    grown = StoredIndex.sync(path, 16, 30_000, lambda skip: iter(batches_after(skip, 30_000)), exact_limit=1_000)
    assert grown._tail is not None and grown._tail.ntotal == 2_000
    for index, queries in ((first, slice(0, 2_000)), (grown, slice(27_000, 30_000))):
        routed = index.hits(vectors[queries], 0.9, query_ids=ids[queries])
        fresh = index.hits(vectors[queries], 0.9)
        assert len(routed) > 2_000
        for field in ("rows", "ids", "similarity"):
            assert np.array_equal(getattr(routed, field), getattr(fresh, field))
    plain = faiss.clone_index(faiss.extract_index_ivf(first._index))
    plain.reset()
    plain.add_with_ids(vectors[:28_000], ids[:28_000])
    plain.nprobe = faiss.extract_index_ivf(first._index).nprobe
    lims, _, found = plain.range_search(vectors[:2_000], 0.9)
    rows = np.repeat(np.arange(2_000), np.diff(lims.astype(np.int64)))
    expected = set(zip(rows.tolist(), found.tolist(), strict=True))
    routed = first.hits(vectors[:2_000], 0.9, query_ids=ids[:2_000])
    assert set(zip(routed.rows.tolist(), routed.ids.tolist(), strict=True)) == expected


def test_the_index_takes_tonights_vectors_from_memory_exactly_as_the_store_holds_them(seed_prepared, tmp_path) -> None:
    """A night builds its index from the vectors it has just embedded, not by reading them back: the same ids, in
    the same order, with the same numbers as the store's, a cached text skipped as the store skips it."""
    from datetime import datetime

    import numpy as np

    from embeddings.encoders import LexicalEncoder
    from night.embedding import embed_stored
    from night.search import _vectors_after
    from store import Store

    encoder = LexicalEncoder()
    with Store.open(tmp_path) as store:
        store.ingest([p.article for p in seed_prepared], "run-1", datetime(2026, 12, 8))
        embed_stored(store, seed_prepared[:2], encoder)  # stored before tonight: not in tonight's additions
        before = {kind: store.vector_count(encoder.name, kind) for kind in ("passage", "quote")}
        tonight = embed_stored(store, seed_prepared, encoder)
        reads = []
        read_back = store.vectors_after
        store.vectors_after = lambda *args: reads.append(args) or read_back(*args)  # type: ignore[method-assign]
        held = {kind: list(_vectors_after(store, encoder, kind, skip, tonight)) for kind, skip in before.items()}
        assert reads == []  # nothing read back
        for kind, skip in before.items():
            stored = list(read_back(encoder.name, kind, skip))
            assert held[kind] and stored
            for position in (0, 1):
                mine = np.concatenate([batch[position] for batch in held[kind]]).astype(np.float64)
                assert np.array_equal(mine, np.concatenate([batch[position] for batch in stored]))
