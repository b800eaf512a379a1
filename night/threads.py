"""Story threads of the window: story vectors, the articles to re-cluster around tonight's, HDBSCAN's groups,
thread ids carried over from the stored threads (`clustering.continuity`), labels and events; stored."""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from clustering.continuity import Continuity, carry_threads, follow_representatives
from clustering.findings import ThreadUpdate
from clustering.neighbourhood import (
    current_thread,
    fact_language,
    reclustering_scope,
    similar_threads,
    thread_update,
    unit,
    window_neighbours,
)
from clustering.story import LanguageMeans, TermStatistics, with_model
from clustering.threads import (
    ThreadSettings,
    attach_to_threads,
    group_articles,
    label_term_ids,
    title_term_ids,
)
from corpus.article import PreparedArticle
from embeddings.encoders import Encoder
from night.intake import Tonight
from night.settings import NightSettings
from night.window import Window
from store import Store

log = logging.getLogger(__name__)


STRONG_KINDS = ("exact", "near_duplicate", "reworded", "translated")


def story_name(settings: ThreadSettings, model: Encoder | None) -> str:
    """The name of the story vectors a run computes: word TF-IDF, with the model's lead vectors if it has one."""
    name = settings.vectoriser().name
    return name if model is None else f"{name}+{model.name}-w{settings.model.weight:g}"


def thread_window(
    store: Store,
    tonight: Tonight,
    window: Window,
    prepared: Sequence[PreparedArticle],
    settings: NightSettings,
    model: Encoder | None = None,
) -> ThreadUpdate:
    """Re-cluster the window around tonight's articles, keep previous thread ids (see `clustering.continuity`) and
    store the result.

    With a `model`, story vectors hold its lead vectors too, and the thread settings are its own
    (`ThreadSettings.with_model`).
    """
    thread_settings = settings.threads if model is None else settings.threads.with_model()
    stored = _window_story_vectors(store, tonight, window, prepared, thread_settings, model)
    in_window = [a for a in tonight.window if a in stored]
    previous = store.memberships()
    scope, attached = _scope(store, tonight, in_window, stored, previous, thread_settings)
    # HDBSCAN finds a story as denser than what surrounds it: a sample of the rest of the window is
    # clustered along as background, and only the scope's articles take tonight's groups
    background = _background(in_window, scope) if scope else []
    clustered = sorted(scope + background)
    log.info(
        "re-clustering %d of the window's %d articles around tonight's (with %d more as background)",
        len(scope),
        len(in_window),
        len(background),
    )
    dim = thread_settings.story_dim + (model.dim if model else 0)
    matrix = (
        np.stack([stored[a] for a in clustered]).astype(np.float32) if clustered else np.zeros((0, dim), np.float32)
    )
    facts = store.article_facts(clustered)
    groups = _groups(store, clustered, matrix, facts, set(scope), thread_settings)
    continuity = _continuity(store, groups, scope, clustered, matrix, facts, previous, settings)
    for article, thread in sorted(attached.items()):
        continuity.memberships[article] = thread
        continuity.grew.setdefault(thread, []).append(article)
    continuity = follow_representatives(continuity, previous, tonight.represented)
    update = _labelled(
        store, tonight.run_id, continuity, previous, facts, scope, set(attached.values()), thread_settings
    )
    store.save_threads(tonight.run_id, update)
    return update


def _window_story_vectors(
    store: Store,
    tonight: Tonight,
    window: Window,
    prepared: Sequence[PreparedArticle],
    settings: ThreadSettings,
    model: Encoder | None,
) -> dict[str, np.ndarray]:
    """The story vector of every window article: tonight's computed and stored, the others' as stored (or computed
    now, for those a killed run, another version or a run without this model left without one)."""
    stored = _save_story_vectors(store, window, prepared, settings, model)
    stored.update(store.article_vectors(story_name(settings, model), [a for a in tonight.window if a not in stored]))
    missing = [a for a in tonight.window if a not in stored]
    if missing:
        log.info("%d window articles have no story vector yet: computing them", len(missing))
        stored.update(_save_story_vectors(store, window, window.prepared(missing), settings, model))
    return stored


def _scope(
    store: Store,
    tonight: Tonight,
    in_window: list[str],
    stored: dict[str, np.ndarray],
    previous: dict[str, str],
    settings: ThreadSettings,
) -> tuple[list[str], dict[str, str]]:
    """The window articles to re-cluster tonight, and tonight's articles that join a stored thread as it is."""
    # articles a killed run analysed but never threaded count as tonight's too
    fresh = set(tonight.fresh) | {a for a in in_window if a not in previous}
    fresh_rows = [i for i, a in enumerate(in_window) if a in fresh]
    if not fresh_rows or len(fresh_rows) == len(in_window):
        return (list(in_window) if fresh_rows else []), {}
    window_matrix = np.stack([stored[a] for a in in_window])
    nearest = window_neighbours(window_matrix, fresh_rows, settings.scope_neighbours)
    attached = _attached(store, in_window, window_matrix, fresh_rows, nearest, previous, settings)
    del window_matrix
    left = [i for i, row in enumerate(fresh_rows) if in_window[row] not in attached]
    scope = reclustering_scope(in_window, [fresh_rows[i] for i in left], nearest[left], previous)
    # an article attached to a thread that is re-clustered tonight after all is clustered with it
    reclustered = {previous[a] for a in scope if a in previous}
    if any(thread in reclustered for thread in attached.values()):
        again = {a for a, thread in attached.items() if thread in reclustered}
        attached = {a: thread for a, thread in attached.items() if a not in again}
        again |= set(scope)
        scope = [a for a in in_window if a in again]
    log.info("%d of tonight's articles joined a stored thread as it is", len(attached))
    return scope, attached


def _groups(
    store: Store,
    clustered: list[str],
    matrix: np.ndarray,
    facts: dict[str, dict],
    in_scope: set[str],
    settings: ThreadSettings,
) -> list[list[str]]:
    """HDBSCAN's groups of the clustered articles (`clustering.threads.group_articles`), kept to the scope's."""
    strong = store.links_among(clustered, STRONG_KINDS)
    published = [facts.get(a, {}).get("published_at") for a in clustered]
    languages = [fact_language(facts.get(a, {})) for a in clustered]
    return [
        kept
        for group in group_articles(clustered, matrix, strong, settings, published, languages)
        if (kept := [a for a in group if a in in_scope])
    ]


def _continuity(
    store: Store,
    groups: list[list[str]],
    scope: list[str],
    clustered: list[str],
    matrix: np.ndarray,
    facts: dict[str, dict],
    previous: dict[str, str],
    settings: NightSettings,
) -> Continuity:
    """Tonight's groups mapped onto the stored threads (`clustering.continuity.carry_threads`)."""
    row_of = {a: i for i, a in enumerate(clustered)}
    rows_of_thread: dict[str, list[int]] = {}
    for article, thread in previous.items():
        if article in row_of:
            rows_of_thread.setdefault(thread, []).append(row_of[article])

    def founding_order(article: str) -> tuple[datetime, str]:
        found = facts.get(article, {})
        return (found.get("published_at") or found.get("arrived_at") or datetime.max, article)

    # centroids of the previous threads with articles among the clustered ones, computed once:
    # a night with many new groups asks about the same threads again and again
    centred = sorted(rows_of_thread)
    centroids = (
        np.stack([unit(matrix[rows_of_thread[t]].mean(axis=0)) for t in centred])
        if centred
        else np.zeros((0, matrix.shape[1]), dtype=np.float32)
    )
    near: dict[tuple[str, ...], list[tuple[float, str]]] = {}

    def continue_thread(group: Sequence[str], candidates: set[str]) -> str | None:
        """The most similar unclaimed previous thread, if similar enough (ties: the last id)."""
        if not near:
            # asked first: every group against the threads unclaimed now (later candidates are fewer), in
            # one matrix product a block at a time, keeping what passes; group by group it took seconds
            threshold = settings.continue_similarity
            near.update(similar_threads(groups, matrix, row_of, centroids, centred, candidates, threshold))
        best, best_similarity = None, settings.continue_similarity
        for similarity, thread in near.get(tuple(group), []):
            if thread in candidates and (similarity, thread) >= (best_similarity, best or ""):
                best, best_similarity = thread, similarity
        return best

    return carry_threads(groups, scope, previous, store.thread_ids_ever(), founding_order, continue_thread)


def _labelled(
    store: Store,
    run_id: str,
    continuity: Continuity,
    previous: dict[str, str],
    facts: dict[str, dict],
    scope: list[str],
    grown: set[str],
    settings: ThreadSettings,
) -> ThreadUpdate:
    """The update tonight's `continuity` makes, with the labels of the threads it touched."""
    in_scope = set(scope)
    touched = set(continuity.memberships.values()) | set(continuity.merged.values())
    members_outside = [a for a, t in previous.items() if t in touched and a not in in_scope]
    members_outside += [a for a in continuity.memberships if a not in facts and a not in previous]
    facts.update(store.article_facts(members_outside))
    # a label weighs its thread's terms against the articles re-clustered tonight and the threads grown
    labelled = [*scope, *(a for a in members_outside if current_thread(a, continuity, previous) in grown)]
    return thread_update(run_id, continuity, previous, facts, labelled, settings.label_terms, store.thread_labels())


def _attached(
    store: Store,
    window: Sequence[str],
    matrix: np.ndarray,
    fresh_rows: Sequence[int],
    nearest: np.ndarray,
    previous: dict[str, str],
    settings: ThreadSettings,
) -> dict[str, str]:
    """Tonight's articles that join a stored thread as it is (`clustering.threads.attach_to_threads`): id -> thread.

    Only threads of two or more articles take new ones so; an article analysed before (an edited
    one) is re-clustered, since the thread it leaves changes too.
    """
    sizes = Counter(previous.values())
    threads = sorted(thread for thread, size in sizes.items() if size > 1)
    number = {thread: i for i, thread in enumerate(threads)}
    fresh = {window[row] for row in fresh_rows}
    labels = np.array([-1 if a in fresh else number.get(previous.get(a, ""), -1) for a in window])
    row_of = {a: i for i, a in enumerate(window)}
    involved = sorted({window[r] for r in nearest.ravel() if r >= 0} | fresh)
    facts = store.article_facts(involved, label_terms=False)
    published = [facts.get(a, {}).get("published_at") for a in window]
    links = store.links_of(sorted(fresh), STRONG_KINDS)
    strong = [(row_of[a], row_of[b]) for a, b, _ in links if a in row_of and b in row_of]
    new = [i for i, row in enumerate(fresh_rows) if window[row] not in previous]
    joined = attach_to_threads(matrix, labels, [fresh_rows[i] for i in new], nearest[new], settings, strong, published)
    return {window[row]: threads[label] for row, label in joined.items()}


def _save_story_vectors(
    store: Store,
    window: Window,
    prepared: Sequence[PreparedArticle],
    settings: ThreadSettings,
    model: Encoder | None = None,
) -> dict[str, np.ndarray]:
    """Compute, store and return the story vectors of `prepared` (with the `model`'s lead vectors, if given).

    IDF comes from the store's term statistics, into which the articles are counted first (each
    article once: one with a stored vector was counted on an earlier night; an edited article,
    whose vector the edit dropped, counts again). Vectors stored on earlier nights keep the IDF
    of their night; with thousands of articles counted, a night moves it little. The model's
    per-language means (`LanguageMeans`) are kept and counted the same way.
    """
    name = story_name(settings, model)
    ids = [a.article.id for a in prepared]
    texts: list[np.ndarray] = []
    for start in range(0, len(prepared), STORY_BATCH):  # a few thousand articles' terms as strings at a time
        batch = prepared[start : start + STORY_BATCH]
        unknown = [a.article.id for a in batch if a.label_terms is None]
        facts = store.article_facts(unknown) if unknown else {}
        texts += [label_term_ids(a, facts.get(a.article.id, {}).get("label_terms")) for a in batch]
    saved = store.term_statistics(name)
    statistics = TermStatistics.from_bytes(*saved) if saved else TermStatistics()
    counted = store.article_vector_ids(name, ids)
    new = [hashes for article, hashes in zip(ids, texts, strict=True) if article not in counted]
    if new:
        statistics.add(new)
        store.save_term_statistics(name, statistics.documents, statistics.to_bytes())
    matrix = settings.vectoriser().vectors(texts, [title_term_ids(a) for a in prepared], statistics)
    if model is not None:
        matrix = _with_leads(store, window, prepared, matrix, counted, name, settings, model)
    vectors = dict(zip(ids, matrix.astype(np.float16), strict=True))
    store.save_article_vectors(name, vectors)
    return vectors


def _with_leads(
    store: Store,
    window: Window,
    prepared: Sequence[PreparedArticle],
    matrix: np.ndarray,
    counted: set[str] | dict,
    name: str,
    settings: ThreadSettings,
    model: Encoder,
) -> np.ndarray:
    """Story vectors with the model's lead vectors beside them, centred on their language's mean."""
    ids = [a.article.id for a in prepared]
    found = window.leads(ids)
    leads = np.stack([found[a] for a in ids]).astype(np.float32) if ids else np.zeros((0, model.dim), np.float32)
    languages = window.detected_languages(prepared)
    means_name = f"{name}:languages"
    saved_means = store.term_statistics(means_name)
    means = LanguageMeans.from_bytes(saved_means[1]) if saved_means else LanguageMeans(model.dim)
    uncounted = [i for i, article in enumerate(ids) if article not in counted]
    if uncounted:
        means.add(leads[uncounted], [languages[i] for i in uncounted])
        store.save_term_statistics(means_name, sum(means.counts.values()), means.to_bytes())
    return with_model(matrix, means.centred(leads, languages), settings.model.weight)


STORY_BATCH = 5_000


def _background(window: Sequence[str], scope: Sequence[str]) -> list[str]:
    """A fixed sample of the window outside `scope`, as large as the scope (at least 100)."""
    in_scope = set(scope)
    rest = [a for a in window if a not in in_scope]
    size = min(len(rest), max(100, len(scope)))
    return sorted(random.Random(len(window)).sample(rest, size))
