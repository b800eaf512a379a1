"""Duplicate pairs of tonight's articles with each other and the window: verified by their words, and with a
calibrated model, reworded or translated pairs the words left apart; stored."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from clustering.duplicates import DuplicatePair, find_duplicates, pair_evidence
from clustering.findings import StoredPair
from clustering.semantic import CALIBRATED, candidate_articles, reporting_passages, semantic_pair
from corpus.article import Passage, PreparedArticle
from embeddings.encoders import Encoder
from executor import Executor
from night.embedding import passage_vectors
from night.faults import checkpoint
from night.intake import Tonight
from night.search import Candidates
from night.settings import NightSettings
from night.window import Window
from store import Store, content_hash

log = logging.getLogger(__name__)


def verify_fresh(
    store: Store,
    tonight: Tonight,
    window: Window,
    candidates: Candidates,
    encoder: Encoder,
    settings: NightSettings,
    executor: Executor | None = None,
    model: Encoder | None = None,
) -> list[DuplicatePair]:
    """Verify duplicates between the fresh articles and each other or the involved stored ones; store them.

    With a calibrated `model`, pairs the lexical check left apart may be found `reworded` or
    `translated` too (`semantic_pairs`).
    """
    everything = candidates.articles
    pairs = find_duplicates(
        everything,
        None,
        candidates.passages,
        quote_candidates=candidates.quotes,
        settings=settings.duplicates,
        executor=executor,
    )
    fresh = set(tonight.fresh)
    pairs = [p for p in pairs if p.article_a in fresh or p.article_b in fresh]
    texts = {a.article.id: a.article.text for a in everything}
    if model is not None:
        fresh_prepared = [a for a in everything if a.article.id in fresh]
        found = semantic_pairs(store, tonight, window, fresh_prepared, pairs, model, settings)
        pairs += found
        texts.update(_texts_of(store, found, texts))
    store.replace_pairs(
        tonight.fresh,
        [
            StoredPair(
                p.article_a,
                p.article_b,
                p.kind.value,
                round(p.score, 4),
                p.first,
                pair_evidence(p, texts),
                encoder.name,
                tonight.run_id,
            )
            for p in pairs
        ],
    )
    checkpoint("verify: pairs stored")
    store.mark_analysed(tonight.fresh, encoder.name)
    return pairs


def _texts_of(store: Store, pairs: Sequence[DuplicatePair], known: dict[str, str]) -> dict[str, str]:
    wanted = {a for p in pairs for a in p.articles if a not in known}
    return {a.id: a.text for a in store.articles(sorted(wanted))} if wanted else {}


def semantic_pairs(
    store: Store,
    tonight: Tonight,
    window: Window,
    fresh: Sequence[PreparedArticle],
    lexical: Sequence[DuplicatePair],
    model: Encoder,
    settings: NightSettings,
) -> list[DuplicatePair]:
    """`reworded` and `translated` pairs of the fresh articles with the window (see `clustering.semantic`).

    The leads' vectors and languages are kept per article (`Window.leads`), so later nights find candidates
    among them without reading the articles again. Paragraph vectors are cached like every other text's.
    """
    thresholds = CALIBRATED.get(model.name)
    if thresholds is None:
        log.info("the model %s has no calibrated thresholds: it verifies no pairs", model.name)
        return []
    fresh_ids = [a.article.id for a in fresh]
    ids, rows = _candidate_rows(tonight, window, fresh_ids, lexical, settings)
    if not rows:
        return []
    by_id = {a.article.id: a for a in window.prepared(sorted({ids[k] for i, j, _ in rows for k in (i, j)}))}
    passages = {a: reporting_passages(found, settings.semantic.max_passages) for a, found in by_id.items()}
    budget = settings.semantic.budget(len(fresh))
    chosen = within_budget(store, model, [(ids[i], ids[j]) for i, j, _ in rows], passages, budget)
    vectors = passage_vectors(store, {a: passages[a] for pair in chosen for a in pair}, model)
    languages = window.languages(sorted(by_id))
    found = []
    for a, b in chosen:
        pair = semantic_pair(
            by_id[a],
            by_id[b],
            (passages[a], passages[b]),
            (vectors[a], vectors[b]),
            (languages.get(a), languages.get(b)),
            thresholds,
            settings.semantic,
        )
        if pair is not None:
            found.append(pair)
    log.info(
        "the model compared %d of %d candidate pairs (its passage budget): %d carry the same reporting",
        len(chosen),
        len(rows),
        len(found),
    )
    return found


def _candidate_rows(
    tonight: Tonight,
    window: Window,
    fresh_ids: list[str],
    lexical: Sequence[DuplicatePair],
    settings: NightSettings,
) -> tuple[list[str], list[tuple[int, int, float]]]:
    """The articles whose leads are compared (tonight's first) and the pairs of their rows worth reading passage by
    passage (`clustering.semantic.candidate_articles`), those the words paired already left out."""
    fresh = set(fresh_ids)
    others = [a for a in tonight.window if a not in fresh]
    leads = window.leads([*fresh_ids, *others])
    unread = len(others) - sum(a in leads for a in others)
    if unread:
        log.info("%d window articles have no lead the model could read", unread)
    ids = [*fresh_ids, *(a for a in others if a in leads)]
    languages = window.languages(ids)
    row = {a: i for i, a in enumerate(ids)}
    excluded = {
        (min(row[p.article_a], row[p.article_b]), max(row[p.article_a], row[p.article_b]))
        for p in lexical
        if p.article_a in row and p.article_b in row
    }
    rows = candidate_articles(
        range(len(fresh_ids)),
        np.stack([leads[a] for a in ids]).astype(np.float32),
        [languages.get(a) for a in ids],
        excluded,
        settings.semantic,
    )
    return ids, rows


def within_budget(
    store: Store, model: Encoder, pairs: Sequence[tuple[str, str]], passages: dict[str, list[Passage]], budget: float
) -> list[tuple[str, str]]:
    """The pairs, in order, whose passages the model can read within `budget` passages it has not read before."""
    digests = {a: {content_hash(p.text) for p in found} for a, found in passages.items()}
    every = set().union(*digests.values())
    read = {digest for kind in ("passage", "lead") for digest in store.cached_vectors(model.name, kind, every)}
    chosen = []
    for a, b in pairs:
        new = (digests[a] | digests[b]) - read
        if len(new) <= budget:
            budget -= len(new)
            read |= new
            chosen.append((a, b))
    return chosen
