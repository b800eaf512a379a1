"""The thread stage's clustering: HDBSCAN over a nearest-neighbour graph."""

from __future__ import annotations

from datetime import datetime, timedelta

import hdbscan
import numpy as np
from scipy.sparse import csgraph

from clustering.threads import ThreadSettings, attach_to_threads, group_articles, neighbour_graph


def _stories(count: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around count // 5 story centres, plus a third as many unrelated articles."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count // 5, 64))
    vectors = centres[rng.integers(0, len(centres), count)] + 0.5 * rng.normal(size=(count, 64))
    vectors = np.concatenate([vectors, rng.normal(size=(count // 3, 64))]).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _partition(labels: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(labels == label).tolist()) for label in set(labels.tolist()) if label >= 0}


def test_neighbour_graph_gives_the_same_threads_as_hdbscan_on_all_distances() -> None:
    vectors = _stories(600)
    settings = ThreadSettings()
    ids = [f"a{i}" for i in range(len(vectors))]
    dense = hdbscan.HDBSCAN(min_cluster_size=2, min_samples=1).fit_predict(vectors.astype(np.float64))
    expected = {frozenset(ids[i] for i in group) for group in _partition(dense)}
    # without merging clusters and attaching noise, group_articles is the clustering itself
    itself = ThreadSettings(attach_similarity=1.01, merge_similarity=1.01)
    found = group_articles(ids, vectors, settings=itself)
    assert len(expected) > 50
    assert {frozenset(group) for group in found} == expected
    assert settings.neighbours < len(vectors)  # the graph really is sparse here


def test_neighbour_graph_joins_unconnected_parts_and_keeps_identical_articles_linked() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=16)
    b = -a  # as far from a as unit vectors get
    vectors = np.stack([a, a, a * 1.01, b, b * 1.02, b]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    graph = neighbour_graph(vectors, neighbours=2)
    assert csgraph.connected_components(graph, directed=False)[0] == 1
    assert graph[0, 1] > 0  # identical articles are neighbours at a tiny positive distance, not "no edge"
    groups = group_articles([f"a{i}" for i in range(6)], vectors, settings=ThreadSettings(neighbours=2))
    assert sorted(sorted(g) for g in groups) == [["a0", "a1", "a2"], ["a3", "a4", "a5"]]


def test_similar_articles_years_apart_are_two_stories_and_undated_ones_are_judged_on_text() -> None:
    # one recurring topic (say, an annual summit): six articles in 2019 and six in 2024, every
    # article as close in wording to the other year's as to its own, among unrelated articles
    rng = np.random.default_rng(3)
    topic = rng.normal(size=64)
    summit = topic + 0.2 * rng.normal(size=(12, 64))
    unrelated = rng.normal(size=(40, 64))
    vectors = np.concatenate([summit, unrelated]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"s{i}" for i in range(12)] + [f"u{i}" for i in range(40)]
    dates = [datetime(2019, 6, 1 + i) for i in range(6)] + [datetime(2024, 6, 1 + i) for i in range(6)]
    published = [*dates, *(datetime(2021, 1, 1) + timedelta(days=40 * i) for i in range(40))]
    # the clustering alone (no merging of clusters, no attaching noise); this toy's stories are tight
    only_text = ThreadSettings(attach_similarity=1.01, merge_similarity=1.01, time_distance=0.5)

    def summit_groups(found: list[list[str]]) -> list[set[str]]:
        return [set(g) for g in found if set(g) & set(ids[:12])]

    assert summit_groups(group_articles(ids, vectors, settings=only_text)) == [set(ids[:12])]
    by_year = summit_groups(group_articles(ids, vectors, settings=only_text, published=published))
    assert {frozenset(g) for g in by_year} == {frozenset(ids[:6]), frozenset(ids[6:12])}
    # no dates, no time distance: the same single story as on text alone
    undated = group_articles(ids, vectors, settings=only_text, published=[None] * len(ids))
    assert summit_groups(undated) == [set(ids[:12])]


def test_two_tight_halves_of_one_story_become_one_thread_unless_years_apart() -> None:
    # two angles on one story (say, the ruling and the reactions to it): each half tight, the
    # halves' centroids still close (cosine about 0.5), among unrelated articles
    rng = np.random.default_rng(5)
    story = rng.normal(size=256)
    angles = [story + 1.1 * rng.normal(size=256) for _ in range(2)]
    halves = np.concatenate([angle + 0.1 * rng.normal(size=(6, 256)) for angle in angles])
    vectors = np.concatenate([halves, rng.normal(size=(40, 256))]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"s{i}" for i in range(12)] + [f"u{i}" for i in range(40)]
    story_ids = set(ids[:12])

    def story_groups(settings: ThreadSettings, published=None) -> list[set[str]]:
        return [
            set(g) for g in group_articles(ids, vectors, settings=settings, published=published) if set(g) & story_ids
        ]

    assert story_groups(ThreadSettings(merge_similarity=1.01)) == [set(ids[:6]), set(ids[6:12])]
    assert story_groups(ThreadSettings()) == [story_ids]
    years_apart = [datetime(2019, 6, 1)] * 6 + [datetime(2024, 6, 1)] * 6 + [None] * 40
    assert len(story_groups(ThreadSettings(), years_apart)) == 2


def test_a_copy_is_always_in_its_originals_thread_and_the_two_stories_stay_apart() -> None:
    # two different stories, each tight, among unrelated articles; the copy "c" of story A's
    # first article reads like story B (say, B's wire text was pasted around it), so on its
    # vector alone it belongs to B's thread
    rng = np.random.default_rng(9)
    centres = rng.normal(size=(2, 256)) * 3
    stories = np.concatenate([centre + rng.normal(size=(6, 256)) for centre in centres])
    copy = centres[1] + rng.normal(size=(1, 256))
    vectors = np.concatenate([stories, copy, rng.normal(size=(40, 256))]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)] + ["c"] + [f"u{i}" for i in range(40)]
    settings = ThreadSettings(merge_similarity=1.01)

    def thread_of(groups: list[list[str]]) -> dict[str, int]:
        return {article: index for index, group in enumerate(groups) for article in group}

    alone = thread_of(group_articles(ids, vectors, settings=settings))
    assert alone["c"] == alone["b0"] != alone["a0"]
    # a0 was published first: the pair goes to a0's thread
    dates = [datetime(2026, 12, 1)] + [datetime(2026, 12, 2)] * (len(ids) - 1)
    linked = thread_of(group_articles(ids, vectors, [("a0", "c", 0.95)], settings, dates))
    assert linked["c"] == linked["a0"]
    # only the copy moved: the two stories keep their own threads
    story = {a: t for a, t in linked.items() if not a.startswith("u")}
    assert {a for a, t in story.items() if t == linked["b0"]} == {f"b{i}" for i in range(6)}
    assert {a for a, t in story.items() if t == linked["a0"]} == {*(f"a{i}" for i in range(6)), "c"}


def _attachment_case() -> tuple[np.ndarray, np.ndarray]:
    """Two stored threads (rows 0-3 around story A, 4-7 around story B) and unrelated rows 8-19."""
    rng = np.random.default_rng(7)
    story_a, story_b = rng.normal(size=64), rng.normal(size=64)
    vectors = np.concatenate(
        [story_a + 0.3 * rng.normal(size=(4, 64)), story_b + 0.3 * rng.normal(size=(4, 64)), rng.normal(size=(12, 64))]
    )
    labels = np.array([0] * 4 + [1] * 4 + [-1] * 12)
    return vectors, labels


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _nearest(vectors: np.ndarray, rows: list[int], k: int = 4) -> np.ndarray:
    similarity = vectors[rows] @ vectors.T
    return np.argsort(-similarity, axis=1)[:, : k + 1]


def test_new_articles_join_a_stored_thread_only_when_it_is_the_one_thread_near_them() -> None:
    vectors, labels = _attachment_case()
    rng = np.random.default_rng(8)
    a, b = vectors[:4].mean(axis=0), vectors[4:8].mean(axis=0)
    fresh = np.stack(
        [
            a + 0.3 * rng.normal(size=64),  # 20: story A again
            0.5 * a + 0.5 * b,  # 21: between A and B (a story joining them, or neither)
            rng.normal(size=64) * 3 + 0.1 * a,  # 22: a new story ...
            np.zeros(64),  # 23: ... and a second article of it, set below
        ]
    )
    fresh[3] = fresh[2] + 0.2 * rng.normal(size=64)
    vectors = _unit(np.concatenate([vectors, fresh]))
    labels = np.concatenate([labels, [-1] * 4])
    rows = [20, 21, 22, 23]
    joined = attach_to_threads(vectors, labels, rows, _nearest(vectors, rows), ThreadSettings())
    assert joined == {20: 0}

    # a near-duplicate of an article outside the thread keeps the copy out: re-clustering puts copies together
    kept_out = attach_to_threads(vectors, labels, rows, _nearest(vectors, rows), ThreadSettings(), strong=[(20, 9)])
    assert kept_out == {}
    # tonight's copy of it, nearest to it, joins with it
    vectors = _unit(np.concatenate([vectors, vectors[20:21] + 0.01]))
    labels = np.append(labels, -1)
    rows = [20, 21, 22, 23, 24]
    both = attach_to_threads(vectors, labels, rows, _nearest(vectors, rows), ThreadSettings(), strong=[(20, 24)])
    assert both == {20: 0, 24: 0}


def test_a_new_article_does_not_join_a_thread_it_is_far_from_in_time() -> None:
    vectors, labels = _attachment_case()
    rng = np.random.default_rng(9)
    vectors = _unit(np.concatenate([vectors, vectors[:4].mean(axis=0, keepdims=True) + 0.6 * rng.normal(size=(1, 64))]))
    labels = np.append(labels, -1)
    close = float(vectors[20] @ _unit(vectors[:4].mean(axis=0)))
    settings = ThreadSettings(attach_similarity=close - 0.05)
    start = datetime(2026, 1, 1)
    same_week = [start] * 20 + [start + timedelta(days=3)]
    months_later = [start] * 20 + [start + timedelta(days=200)]
    nearest = _nearest(vectors, [20])
    assert attach_to_threads(vectors, labels, [20], nearest, settings, published=same_week) == {20: 0}
    assert attach_to_threads(vectors, labels, [20], nearest, settings, published=months_later) == {}
