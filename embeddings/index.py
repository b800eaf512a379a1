"""A FAISS inner-product index over passage vectors, and the search for candidate pairs."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CandidatePairs:
    """Pairs of rows (left < right) owned by different articles, with their cosine similarity."""

    left: np.ndarray
    right: np.ndarray
    similarity: np.ndarray

    def __len__(self) -> int:
        return len(self.left)


EXACT_LIMIT = 20_000
"""Up to this many vectors, search is exact (flat); beyond, an inverted-file index."""
PROBES = 16
"""Inverted lists searched per query at least (of about 4·√n): finds nearly every pair above cosine 0.7
and most of those just above the candidate threshold."""
MIN_SCANNED = 2_000
"""Vectors a query scans at least: a small index (lists of a few dozen vectors) is searched through more
lists, which costs little there. On reuse-dev (42,000 passages, 820 lists, 40 probes instead of 16) this
finds 3 more of the 285 reused pairs; from about 250,000 vectors on, `PROBES` alone scans as many."""


def _trained_ivf(vectors: np.ndarray, probes: int = PROBES, lists: int | None = None) -> faiss.Index:
    """An empty inverted-file index (float16 vectors) with coarse centroids trained on a sample of `vectors`.

    `lists` defaults to about 4·√n for the n vectors given.
    """
    dim = vectors.shape[1]
    lists = lists or int(4 * np.sqrt(len(vectors)))
    ivf = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dim), dim, lists, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    ivf.cp.niter = 6  # coarse centroids only route queries: 6 iterations find the same pairs as 10 (benchmarks)
    ivf.train(vectors[np.random.default_rng(0).permutation(len(vectors))[: 40 * lists]])
    ivf.nprobe = min(lists, max(probes, int(np.ceil(MIN_SCANNED * lists / max(len(vectors), 1)))))
    return ivf


class PassageIndex:
    """Inner-product search over unit vectors (cosine similarity).

    Exact (`IndexFlatIP`) for small collections; for larger ones an inverted-file index
    with vectors stored as float16 (`IndexIVFScalarQuantizer`, about 4·√n lists, `probes` of
    them searched per query), which compares each query with a small share of the vectors
    at half the memory. Its recall against exact search is measured by `bench/perf.py` and
    tested on a small corpus.
    """

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        if dim < 1:
            raise ValueError(f"index dimension must be positive, got {dim}")
        self.dim = dim
        self._index = index if index is not None else faiss.IndexFlatIP(dim)

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, exact_limit: int = EXACT_LIMIT, probes: int = PROBES) -> PassageIndex:
        """An index holding `vectors` (rows are unit-length float32), exact or IVF by size."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        index = cls(dim) if len(vectors) <= exact_limit else cls(dim, _trained_ivf(vectors, probes))
        index.add(vectors)
        return index

    @property
    def exact(self) -> bool:
        """True when searches are exhaustive."""
        return _is_flat(self._index)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append `vectors`; their row numbers continue from the current size."""
        vectors = _as_matrix(vectors, self.dim)
        if len(vectors):
            self._index.add(vectors)

    def nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, rows) of the `k` most similar indexed rows of each query; rows of -1 where fewer exist."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        similarity, rows = self._index.search(_as_matrix(queries, self.dim), k)
        return similarity, rows

    def within(
        self, queries: np.ndarray, threshold: float, batch_size: int = 4096
    ) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """For each query row, the indexed rows with similarity >= `threshold`.

        Returns (query row, neighbour rows, similarities) for queries that have any.
        """
        queries = _as_matrix(queries, self.dim)
        found: list[tuple[int, np.ndarray, np.ndarray]] = []
        for start in range(0, len(queries), batch_size):
            lims, sims, rows = self._index.range_search(queries[start : start + batch_size], threshold)
            for offset in range(len(lims) - 1):
                lo, hi = lims[offset], lims[offset + 1]
                if hi > lo:
                    found.append((start + offset, rows[lo:hi], sims[lo:hi]))
        return found


def candidate_pairs(
    vectors: np.ndarray, owners: np.ndarray, threshold: float, exact_limit: int = EXACT_LIMIT
) -> CandidatePairs:
    """Pairs of rows of `vectors` from different owners with cosine >= `threshold`.

    All such pairs up to `exact_limit` vectors; beyond, those the IVF index finds.
    """
    if len(vectors) != len(owners):
        raise ValueError(f"got {len(vectors)} vectors but {len(owners)} owners; expected one owner per vector")
    if len(vectors) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return CandidatePairs(empty, empty, np.zeros(0, dtype=np.float32))
    index = PassageIndex.from_vectors(vectors, exact_limit)
    lefts, rights, sims = [], [], []
    for query, rows, similarity in index.within(vectors, threshold):
        # an approximate index may find a pair from one side only: keep both directions
        keep = owners[rows] != owners[query]
        if keep.any():
            lefts.append(np.full(int(keep.sum()), query, dtype=np.int64))
            rights.append(rows[keep].astype(np.int64))
            sims.append(similarity[keep].astype(np.float32))
    if not lefts:
        return candidate_pairs(vectors[:0], owners[:0], threshold)
    left, right, similarity = np.concatenate(lefts), np.concatenate(rights), np.concatenate(sims)
    low, high = np.minimum(left, right), np.maximum(left, right)
    _, first = np.unique(low * len(vectors) + high, return_index=True)
    return CandidatePairs(low[first], high[first], similarity[first])


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {vectors.shape}")
    return vectors


class StoredIndex:
    """A FAISS index of one kind of vectors under the store's vector ids, kept in a file.

    The file holds the first `len(index)` vectors of the store's cache in id order, so a run
    adds only what is new. A missing, unreadable or too-large file is rebuilt from the
    stored vectors with a warning; a flat index that outgrows `exact_limit` becomes IVF.
    """

    def __init__(self, path: Path, dim: int, index: faiss.Index) -> None:
        self.path = Path(path)
        self.dim = dim
        self._index = index

    @classmethod
    def sync(
        cls,
        path: Path,
        dim: int,
        stored_count: int,
        batches_after: Callable[[int], Iterator[tuple[np.ndarray, np.ndarray]]],
        exact_limit: int = EXACT_LIMIT,
    ) -> StoredIndex:
        """Open the index at `path` and bring it level with the store's `stored_count` vectors.

        `batches_after(n)` yields (ids, vectors) of the stored vectors after the first n, in id order.
        """
        path = Path(path)
        index = _read_index(path, dim)
        if index is None and not path.exists() and stored_count:
            # the first run of an encoder, or a deleted file: both are rebuilt from the store
            log.info("building index %s from %d stored vectors", path, stored_count)
        if index is not None and index.ntotal > stored_count:
            log.warning("index %s holds %d vectors but the store %d: rebuilding it", path, index.ntotal, stored_count)
            index = None
        if index is not None and stored_count > exact_limit and _is_flat(index):
            log.info("index %s outgrew exact search (%d vectors): rebuilding as IVF", path, stored_count)
            index = None
        if index is None:
            index = _build(dim, stored_count, batches_after(0), exact_limit)
        else:
            for ids, vectors in batches_after(int(index.ntotal)):
                index.add_with_ids(_as_matrix(vectors, dim), ids.astype(np.int64))
        return cls(path, dim, index)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def exact(self) -> bool:
        """True when searches are exhaustive."""
        return _is_flat(self._index)

    def save(self) -> None:
        """Write the index to a temporary file and rename it over the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        faiss.write_index(self._index, str(temporary))
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, self.path)

    def within(
        self, queries: np.ndarray, threshold: float, batch_size: int = 4096
    ) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """For each query row, the stored vector ids with similarity >= `threshold` (as `PassageIndex.within`)."""
        return PassageIndex(self.dim, self._index).within(queries, threshold, batch_size)

    def hits(self, queries: np.ndarray, threshold: float, batch_size: int = 4096) -> Hits:
        """Every (query row, stored vector id, similarity) with similarity >= `threshold`, as flat arrays."""
        rows, ids, sims = [], [], []
        for start in range(0, len(queries), batch_size):
            batch = _as_matrix(queries[start : start + batch_size], self.dim)  # float32 one batch at a time
            lims, found_sims, found_ids = self._index.range_search(batch, threshold)
            counts = np.diff(lims.astype(np.int64))
            rows.append(start + np.repeat(np.arange(len(lims) - 1, dtype=np.int64), counts))
            ids.append(found_ids.astype(np.int64))
            sims.append(found_sims.astype(np.float32))
        if not rows:
            return Hits(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
        return Hits(np.concatenate(rows), np.concatenate(ids), np.concatenate(sims))


@dataclass(frozen=True)
class Hits:
    """Search results as flat arrays: query rows, the stored ids they found, and the similarities."""

    rows: np.ndarray
    ids: np.ndarray
    similarity: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def candidate_pairs(self, row_ids: np.ndarray, owners: np.ndarray) -> CandidatePairs:
        """Pairs of rows whose stored ids were found, given each row's stored id and owner.

        A stored id stands for one distinct text; every row carrying that text (a copy, the
        same paragraph in another article) pairs with the query row.
        """
        order = np.argsort(row_ids, kind="stable")
        sorted_ids = row_ids[order]
        low = np.searchsorted(sorted_ids, self.ids, side="left")
        counts = np.searchsorted(sorted_ids, self.ids, side="right") - low
        total = int(counts.sum())
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        right = order[np.repeat(low, counts) + offsets]
        left = np.repeat(self.rows, counts)
        similarity = np.repeat(self.similarity, counts)
        keep = owners[left] != owners[right]
        left, right, similarity = left[keep], right[keep], similarity[keep]
        low_row, high_row = np.minimum(left, right), np.maximum(left, right)
        _, first = np.unique(low_row * len(row_ids) + high_row, return_index=True)
        return CandidatePairs(low_row[first], high_row[first], similarity[first])


def _is_flat(index: faiss.Index) -> bool:
    try:
        faiss.extract_index_ivf(index)
    except RuntimeError:
        return True
    return False


def _read_index(path: Path, dim: int) -> faiss.Index | None:
    if not path.exists():
        return None
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as error:
        log.warning("index file %s is unreadable (%s): rebuilding it from the store", path, str(error).splitlines()[0])
        return None
    if index.d != dim:
        log.warning("index file %s has dimension %d, expected %d: rebuilding it", path, index.d, dim)
        return None
    return index


def _build(dim: int, count: int, batches: Iterator[tuple[np.ndarray, np.ndarray]], exact_limit: int) -> faiss.Index:
    if count <= exact_limit:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        for ids, vectors in batches:
            index.add_with_ids(_as_matrix(vectors, dim), ids.astype(np.int64))
        return index
    # train on the first vectors that arrive, then stream the rest in: never all of them in float32 at once
    lists = int(4 * np.sqrt(count))
    pending_ids: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    ivf: faiss.Index | None = None
    for ids, vectors in batches:
        if ivf is not None:
            ivf.add_with_ids(_as_matrix(vectors, dim), ids.astype(np.int64))
            continue
        pending_ids.append(ids)
        pending.append(_as_matrix(vectors, dim))
        if sum(len(p) for p in pending) >= 40 * lists:
            ivf = _trained_ivf(np.concatenate(pending), lists=lists)
            ivf.add_with_ids(np.concatenate(pending), np.concatenate(pending_ids).astype(np.int64))
            pending, pending_ids = [], []
    if ivf is None:
        vectors = np.concatenate(pending) if pending else np.zeros((0, dim), dtype=np.float32)
        ivf = _trained_ivf(vectors, lists=lists)
        ivf.add_with_ids(
            vectors, np.concatenate(pending_ids).astype(np.int64) if pending_ids else np.zeros(0, np.int64)
        )
    return ivf
