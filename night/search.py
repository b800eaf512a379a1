"""The persistent FAISS indexes brought level with the store, and the one search of tonight's passages and quotes
that finds both the stored window articles they touch and the candidate pairs to verify."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from corpus.article import PreparedArticle
from embeddings.encoders import Encoder, short_candidate_threshold
from embeddings.index import CandidatePairs, Hits, StoredIndex
from executor import Executor
from night.embedding import Vectors, embed_stored, texts_of_kind
from night.faults import checkpoint
from night.intake import Tonight
from night.settings import NightSettings
from night.window import Window
from store import Store, content_hash

log = logging.getLogger(__name__)


def index_path(store: Store, encoder: Encoder, kind: str) -> str:
    """The FAISS file of `kind` vectors of `encoder`, in the store's index folder."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder.name)[:60]
    return str(store.index_dir / f"{slug}-{content_hash(encoder.name)[:8]}.{kind}.faiss")


def update_indexes(
    store: Store, encoder: Encoder, settings: NightSettings | None = None, tonight: Vectors | None = None
) -> dict[str, StoredIndex]:
    """Bring the passage and quote index files level with the store's vectors and save them. The vectors
    `tonight` added are taken from memory, not read back from the store."""
    indexes = {}
    for kind in ("passage", "quote"):
        index = StoredIndex.sync(
            index_path(store, encoder, kind),
            encoder.dim,
            store.vector_count(encoder.name, kind),
            lambda skip, kind=kind: _vectors_after(store, encoder, kind, skip, tonight),
            (settings or NightSettings()).exact_limit,
        )
        index.save()
        indexes[kind] = index
    checkpoint("index: files saved")
    return indexes


INDEX_BATCH = 50_000


def _vectors_after(
    store: Store, encoder: Encoder, kind: str, skip: int, tonight: Vectors | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) of the store's vectors of `kind` after the first `skip`, in id order: from `tonight`'s
    vectors when it added every one of them, else read from the store."""
    held = _added_vectors(tonight, kind) if tonight is not None else None
    if held is not None:
        added, rows_of_added, matrix = held
        ids = store.vector_ids_after(encoder.name, kind, skip)
        rows = np.searchsorted(added, ids)
        if len(ids) and rows.max(initial=0) < len(added) and np.array_equal(added[rows], ids):
            for start in range(0, len(ids), INDEX_BATCH):
                yield ids[start : start + INDEX_BATCH], matrix[rows_of_added[rows[start : start + INDEX_BATCH]]]
            return
    yield from store.vectors_after(encoder.name, kind, skip)


def _added_vectors(tonight: Vectors, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The vectors of `kind` that `tonight` added to the store: (their sorted ids, the row of each in `matrix`,
    `matrix`: tonight's vectors of `kind`, not copied); None if it added none."""
    if kind == "passage":
        ids, matrix = tonight.passage_ids, tonight.passages
    elif kind == "quote":
        ids, matrix = tonight.quote_ids, tonight.quotes
    else:
        return None
    added = tonight.added_ids.get(kind)
    if added is None or not len(added):
        return None
    distinct_ids, first = np.unique(ids, return_index=True)
    keep = np.isin(distinct_ids, added)
    return distinct_ids[keep], first[keep], matrix


@dataclass
class WindowSearch:
    """What tonight's passages and quotes found in the index: the stored articles involved, and the raw hits."""

    involved: list[str]
    passage_hits: Hits
    quote_hits: Hits


def search_window(
    store: Store,
    tonight: Tonight,
    prepared: Sequence[PreparedArticle],
    vectors: Vectors,
    encoder: Encoder,
    indexes: dict[str, StoredIndex],
) -> WindowSearch:
    """Search the indexes (which hold tonight's vectors too) for everything near tonight's passages and quotes.

    The hits give both the stored window articles that share text with tonight's and the
    candidate pairs among tonight's articles, from one search. The one passage of a short article (a post,
    a flash) searches with the encoder's lower `short_candidate_threshold`.
    """
    older = set(tonight.window) - set(tonight.fresh)
    involved: set[str] = set()
    hits: dict[str, Hits] = {}
    passage_thresholds = np.repeat(
        [short_candidate_threshold(encoder) if len(a.passages) == 1 else encoder.candidate_threshold for a in prepared],
        [len(a.passages) for a in prepared],
    ).astype(np.float32)
    for kind, queries, threshold, query_ids in (
        ("passage", vectors.passages, passage_thresholds, vectors.passage_ids),
        ("quote", vectors.quotes, encoder.candidate_threshold, vectors.quote_ids),
    ):
        hits[kind] = indexes[kind].hits(queries, threshold, query_ids=query_ids)
        if older and len(hits[kind]):
            # texts first seen tonight need no lookup: only the others can belong to stored articles (a
            # paragraph copied word for word from a stored article has that article's vector id)
            foreign = np.setdiff1d(hits[kind].ids, vectors.added_ids.get(kind, np.zeros(0, dtype=np.int64)))
            owners = store.owners(encoder.name, kind, foreign.tolist())
            involved |= {a for found in owners.values() for a in found if a in older}
    return WindowSearch(sorted(involved), hits["passage"], hits["quote"])


def stored_text_ids(
    store: Store, prepared: Sequence[PreparedArticle], encoder: Encoder
) -> dict[str, np.ndarray] | None:
    """The stored vector ids of the passages and quotes of `prepared`, in order, without reading the vectors
    (all candidate pairs need); None if a text has no stored vector."""
    found = {}
    for kind in ("passage", "quote"):
        hashes = [content_hash(t) for a in prepared for t in texts_of_kind(a, kind)]
        ids = store.vector_ids(encoder.name, kind, hashes)
        if len(ids) < len(set(hashes)):
            return None
        found[kind] = np.fromiter((ids[h] for h in hashes), dtype=np.int64, count=len(hashes))
    return found


@dataclass
class Candidates:
    """Tonight's fresh articles with the stored ones they may share text with, and the pairs to verify."""

    articles: list[PreparedArticle]
    passages: CandidatePairs
    quotes: CandidatePairs


def gather_candidates(
    store: Store,
    window: Window,
    prepared: Sequence[PreparedArticle],
    vectors: Vectors,
    search: WindowSearch,
    encoder: Encoder,
    settings: NightSettings,
    executor: Executor | None = None,
) -> Candidates:
    """Candidate passage and quote pairs between the fresh articles and each other or the involved stored ones."""
    others = window.prepared(search.involved) if search.involved else []
    other_ids = stored_text_ids(store, others, encoder)
    if other_ids is None:  # a text with no stored vector (an article prepared otherwise than when it was embedded)
        # the involved articles were found through their recorded vectors: nothing to record again
        found = embed_stored(store, others, encoder, record=False)
        other_ids = {"passage": found.passage_ids, "quote": found.quote_ids}
    everything = [*prepared, *others]
    candidates = {}
    for kind, hits, fresh_ids in (
        ("passage", search.passage_hits, vectors.passage_ids),
        ("quote", search.quote_hits, vectors.quote_ids),
    ):
        ids = np.concatenate([fresh_ids, other_ids[kind]])
        counts = [len(a.passages) if kind == "passage" else len(a.quotes) for a in everything]
        owners = np.repeat(np.arange(len(everything), dtype=np.int64), counts)
        candidates[kind] = hits.candidate_pairs(ids, owners)
    return Candidates(everything, candidates["passage"], candidates["quote"])
