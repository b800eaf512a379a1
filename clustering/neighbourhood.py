"""Re-clustering around tonight's articles: their nearest neighbours in the window, the scope a night
re-clusters, which stored thread a new group continues, and the update (labels, events) it makes."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import numpy as np

from clustering.continuity import Continuity
from clustering.findings import ThreadEvent, ThreadUpdate
from clustering.labels import TermRarity, ThreadMembers, thread_labels
from embeddings.index import EXACT_LIMIT, PassageIndex

log = logging.getLogger(__name__)


SIMILARITY_BLOCK = 1024
"""Groups whose similarity to the previous threads is computed in one matrix product."""


def similar_threads(
    groups: Sequence[Sequence[str]],
    matrix: np.ndarray,
    row_of: dict[str, int],
    centroids: np.ndarray,
    threads: Sequence[str],
    candidates: set[str],
    threshold: float,
) -> dict[tuple[str, ...], list[tuple[float, str]]]:
    """For each group (as a tuple), the candidate threads (rows of `centroids`, ids in `threads`) whose
    centroid's cosine with the group's reaches `threshold`, as (similarity, thread)."""
    columns = [i for i, thread in enumerate(threads) if thread in candidates]
    found: dict[tuple[str, ...], list[tuple[float, str]]] = {tuple(group): [] for group in groups}
    if not columns:
        return found
    chosen = centroids[columns]
    for start in range(0, len(groups), SIMILARITY_BLOCK):
        block = groups[start : start + SIMILARITY_BLOCK]
        means = np.stack([unit(matrix[[row_of[a] for a in group]].mean(axis=0)) for group in block])
        similarity = means @ chosen.T
        for group, row in zip(block, similarity, strict=True):
            close = np.flatnonzero(row >= threshold)
            found[tuple(group)] = [(float(row[i]), threads[columns[i]]) for i in close]
    return found


EXACT_SCOPE_PRODUCTS = 2_000_000_000
"""Up to this many (fresh article, window article) products, a night's neighbours are found exactly."""


def window_neighbours(matrix: np.ndarray, fresh_rows: Sequence[int], neighbours: int) -> np.ndarray:
    """Rows of the `neighbours` + 1 window articles (rows of `matrix`) nearest each fresh row, itself among
    them, most similar first (-1 where the window is smaller)."""
    # a small night searches exactly: cheaper than training an inverted file over the whole window
    exact = len(fresh_rows) * len(matrix) <= EXACT_SCOPE_PRODUCTS
    index = PassageIndex.from_vectors(matrix, exact_limit=len(matrix) if exact else EXACT_LIMIT)
    _, rows = index.nearest(matrix[list(fresh_rows)], min(neighbours, len(matrix) - 1) + 1)
    return rows


def current_thread(article: str, continuity: Continuity, previous: dict[str, str]) -> str | None:
    """The article's thread after tonight's `continuity`."""
    return continuity.memberships.get(article, previous.get(article))


def reclustering_scope(
    window: Sequence[str], fresh_rows: Sequence[int], nearest: np.ndarray, previous: dict[str, str]
) -> list[str]:
    """The window articles to re-cluster tonight: the fresh ones (`fresh_rows`), their nearest
    neighbours (`nearest`, see `window_neighbours`), and every member of the threads those belong
    to. Threads elsewhere in the window are left as they are, so a night's clustering costs what
    is new, not the size of the window."""
    chosen = {window[r] for r in np.asarray(nearest).ravel() if r >= 0} | {window[r] for r in fresh_rows}
    threads = {previous[a] for a in chosen if a in previous}
    in_window = set(window)
    chosen |= {a for a, t in previous.items() if t in threads and a in in_window}
    return [a for a in window if a in chosen]


RARITY_BATCH = 5_000
"""Window articles whose label terms are split and numbered at a time."""


def thread_update(
    run_id: str,
    continuity: Continuity,
    previous: dict[str, str],
    facts: dict[str, dict],
    window: Sequence[str],
    label_count: int,
    previous_labels: dict[str, str] | None = None,
) -> ThreadUpdate:
    members: dict[str, list[str]] = {}
    current = {**previous, **continuity.memberships}
    for article, thread in current.items():
        members.setdefault(thread, []).append(article)
    touched = set(continuity.memberships.values()) | set(continuity.created)

    window_articles = list(dict.fromkeys(window))
    labelled = {a for thread in touched for a in members.get(thread, [])}

    def terms_of(articles: Sequence[str]) -> list[list[str]]:
        return [(facts.get(a, {}).get("label_terms") or "").split() for a in articles]

    rarity = TermRarity()
    numbered: dict[str, np.ndarray] = {}
    # a few thousand articles' terms as strings at a time: all of a 100,000-article window's at once would be
    # tens of millions of small strings
    for start in range(0, len(window_articles), RARITY_BATCH):
        batch = window_articles[start : start + RARITY_BATCH]
        terms = rarity.numbered(terms_of(batch))
        rarity.add_numbered(terms, [fact_language(facts.get(a, {})) for a in batch])
        numbered.update((a, found) for a, found in zip(batch, terms, strict=True) if a in labelled)
    outside = [a for a in labelled if a not in numbered]  # members outside the window: no article there carries them
    numbered.update(zip(outside, rarity.numbered(terms_of(outside)), strict=True))
    labels = thread_labels(
        {
            thread: ThreadMembers(
                [facts.get(a, {}).get("title") or "" for a in members.get(thread, [])],
                [numbered[a] for a in members.get(thread, [])],
                [fact_language(facts.get(a, {})) for a in members.get(thread, [])],
            )
            for thread in sorted(touched)
        },
        rarity,
        label_count,
        previous_labels,
    )
    events: list[ThreadEvent] = []
    for thread, parent in sorted(continuity.created.items()):
        if parent is not None:
            events.append(ThreadEvent(run_id, "split", parent, [thread]))
        elif len(members.get(thread, [])) > 1:
            events.append(ThreadEvent(run_id, "new", thread, sorted(members[thread])))
    survivors: dict[str, list[str]] = {}
    before = Counter(previous.values())
    for retired, survivor in continuity.merged.items():
        # a single-article thread absorbed by a story is that story growing, not a merge of stories
        if before[retired] > 1:
            survivors.setdefault(survivor, []).append(retired)
    for survivor, retired in sorted(survivors.items()):
        events.append(ThreadEvent(run_id, "merge", survivor, sorted(retired)))
    for thread, added in sorted(continuity.grew.items()):
        events.append(ThreadEvent(run_id, "grew", thread, sorted(added)))
    return ThreadUpdate(continuity.memberships, labels, continuity.created, continuity.merged, events)


def fact_language(facts: dict) -> str | None:
    language = facts.get("language")
    return language.lower() if language else None


def unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
