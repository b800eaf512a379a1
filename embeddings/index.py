"""A FAISS inner-product index over passage vectors, and the search for candidate pairs."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from numba import njit

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
    lists = lists or lists_for(len(vectors))
    ivf = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dim), dim, lists, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    ivf.cp.niter = 6  # coarse centroids only route queries: 6 iterations find the same pairs as 10 (benchmarks)
    ivf.train(vectors[np.random.default_rng(0).permutation(len(vectors))[: TRAINING_PER_LIST * lists]])
    ivf.nprobe = probes_for(lists, len(vectors), probes)
    return ivf


TRAINING_PER_LIST = 40
"""Vectors sampled per list to train the coarse centroids. Half as many train in half the time but lost one of
reuse-dev's 285 reused pairs."""


def lists_for(count: int) -> int:
    """Inverted lists of an index built over `count` vectors: about 4·√n."""
    return int(4 * np.sqrt(count))


def probes_for(lists: int, count: int, probes: int = PROBES) -> int:
    """Inverted lists a query searches in an index of `count` vectors over `lists` lists: at least `probes`,
    and enough to scan `MIN_SCANNED` vectors."""
    return min(lists, max(probes, int(np.ceil(MIN_SCANNED * lists / max(count, 1)))))


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


TAIL_SHARE = 0.1
"""A stored IVF index keeps the vectors added since its file was written in a small tail file, folded into
the main file once the tail holds this share of it: a night writes what it added, not the whole index."""


class StoredIndex:
    """A FAISS index of one kind of vectors under the store's vector ids, kept in a file.

    The file holds the first `len(index)` vectors of the store's cache in id order, so a run
    adds only what is new. A missing, unreadable or too-large file is rebuilt from the
    stored vectors with a warning; a flat index that outgrows `exact_limit` becomes IVF.
    An IVF index keeps the vectors added after its file was written in a *tail* (an IVF index
    on the same centroids, in a file named after the main file's size, so that a tail left by
    a run that died while folding it in is never read against the wrong main file); searching
    both finds what one index holding all the vectors would.
    """

    def __init__(
        self, path: Path, dim: int, index: faiss.Index, tail: faiss.Index | None = None, routes: Routes | None = None
    ) -> None:
        self.path = Path(path)
        self.dim = dim
        self._index = index
        self._tail = tail
        self._main_changed = True
        self._tail_changed = tail is not None
        self._routes = routes if routes is not None else Routes()

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
        tail = _read_tail(path, index, dim) if index is not None and not _is_flat(index) else None
        held = (index.ntotal if index is not None else 0) + (tail.ntotal if tail is not None else 0)
        if index is not None and held > stored_count:
            log.warning("index %s holds %d vectors but the store %d: rebuilding it", path, held, stored_count)
            index = tail = None
        if index is not None and stored_count > exact_limit and _is_flat(index):
            log.info("index %s outgrew exact search (%d vectors): rebuilding as IVF", path, stored_count)
            index = None
        if index is None:
            routes = Routes()
            return cls(path, dim, _build(dim, stored_count, batches_after(0), exact_limit, routes), routes=routes)
        stored = cls(path, dim, index, tail)
        stored._main_changed = False
        for ids, vectors in batches_after(held):
            stored._add(_as_matrix(vectors, dim), ids.astype(np.int64), stored_count)
        if stored._tail is not None and stored._tail.ntotal > TAIL_SHARE * stored._index.ntotal:
            stored._index.merge_from(stored._tail, 0)
            stored._tail, stored._main_changed, stored._tail_changed = None, True, False
        return stored

    def _add(self, vectors: np.ndarray, ids: np.ndarray, total: int) -> None:
        """Add to the flat index, or to an IVF index's tail (routed for the probes `total` vectors call for)."""
        if _is_flat(self._index):
            self._index.add_with_ids(vectors, ids)
            self._main_changed = True
            return
        if self._tail is None:
            self._tail = _empty_like(self._index, vectors[:1000])
        self._routes.add(self._tail, vectors, ids, probes_for(faiss.extract_index_ivf(self._index).nlist, total))
        self._tail_changed = True

    def __len__(self) -> int:
        return int(self._index.ntotal) + (int(self._tail.ntotal) if self._tail is not None else 0)

    @property
    def exact(self) -> bool:
        """True when searches are exhaustive."""
        return _is_flat(self._index)

    def save(self) -> None:
        """Write what changed (the main file, or only the tail), each to a temporary file renamed over the old."""
        if self._main_changed:
            _write_atomic(self._index, self.path)
        if self._tail is not None and (self._tail_changed or self._main_changed):
            _write_atomic(self._tail, _tail_path(self.path, self._index.ntotal))
        keep = _tail_path(self.path, self._index.ntotal) if self._tail is not None else None
        for stale in self.path.parent.glob(f"{self.path.name.removesuffix('.faiss')}.tail-*.faiss"):
            if stale != keep:
                stale.unlink(missing_ok=True)
        self._main_changed = self._tail_changed = False

    def hits(
        self,
        queries: np.ndarray,
        threshold: float | np.ndarray,
        batch_size: int = 4096,
        query_ids: np.ndarray | None = None,
    ) -> Hits:
        """Every (query row, stored vector id, similarity) with similarity above `threshold` (one for all queries,
        or one per query), as flat arrays ordered by query row and stored id. A query whose stored vector id
        (`query_ids`) this index added is routed as it was when added, without a second search of the centroids."""
        thresholds = np.broadcast_to(np.asarray(threshold, dtype=np.float32), (len(queries),))
        if not self.exact:
            # probes for the vectors held now (the index was trained on the first of them, and grows night by night)
            probes = probes_for(faiss.extract_index_ivf(self._index).nlist, len(self))
            for index in self._parts():
                faiss.extract_index_ivf(index).nprobe = probes
        rows, ids, sims = [], [], []
        probed: list[np.ndarray | None] = []
        for index in self._parts():
            if searched_by_list(index):
                for number, start in enumerate(range(0, len(queries), LIST_MAJOR_BATCH)):
                    batch = _as_matrix(queries[start : start + LIST_MAJOR_BATCH], self.dim)
                    if len(probed) <= number:  # the main index and its tail share their centroids: route once
                        batch_ids = query_ids[start : start + LIST_MAJOR_BATCH] if query_ids is not None else None
                        probed.append(self._routes.probed(index, batch, batch_ids))
                    found = range_search_by_list(
                        index, batch, thresholds[start : start + LIST_MAJOR_BATCH], probed[number]
                    )
                    rows.append(found.rows + start)
                    ids.append(found.ids)
                    sims.append(found.similarity)
                continue
            for value in np.unique(thresholds).tolist():
                chosen = np.flatnonzero(thresholds == value)
                for start in range(0, len(chosen), batch_size):
                    batch_rows = chosen[start : start + batch_size]
                    batch = _as_matrix(queries[batch_rows], self.dim)  # float32 one batch at a time
                    lims, found_sims, found_ids = index.range_search(batch, value)
                    counts = np.diff(lims.astype(np.int64))
                    rows.append(np.repeat(batch_rows.astype(np.int64), counts))
                    ids.append(found_ids.astype(np.int64))
                    sims.append(found_sims.astype(np.float32))
        if not rows:
            return Hits(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
        found_rows, found_ids = np.concatenate(rows), np.concatenate(ids)
        order = np.lexsort((found_ids, found_rows))
        return Hits(found_rows[order], found_ids[order], np.concatenate(sims)[order])

    def _parts(self) -> list[faiss.Index]:
        return [self._index] if self._tail is None else [self._index, self._tail]


LIST_MAJOR_BATCH = 200_000
"""Queries searched list by list at once: their probe lists and one list's similarities stay in memory."""


def searched_by_list(index: faiss.Index) -> bool:
    """Whether `index` is an inverted-file index of float16 vectors, which `range_search_by_list` reads."""
    return isinstance(index, faiss.IndexIVFScalarQuantizer) and index.sq.qtype == faiss.ScalarQuantizer.QT_fp16


def range_search_by_list(
    index: faiss.IndexIVFScalarQuantizer, queries: np.ndarray, thresholds: np.ndarray, probed: np.ndarray | None = None
) -> Hits:
    """What `index.range_search` finds (similarity above each query's threshold in the lists it probes), list by
    list: one matrix product of each list's vectors with all the queries that probe it.

    FAISS's range search takes query by query, scanning each probed list anew (float16 codes decoded one
    similarity at a time); here each list is decoded once and meets its queries in one BLAS call, several times
    faster on the same lists and probes, with the same hits. `probed`: each query's `index.nprobe` nearest lists,
    where they are known already.
    """
    if probed is None:
        _, probed = index.quantizer.search(queries, index.nprobe)
    starts, asking = _queries_by_list(probed, index.nlist)
    centroids = index.quantizer.reconstruct_n(0, index.nlist) if index.by_residual else None
    inverted = index.invlists
    rows, ids, sims = [], [], []
    for number in np.flatnonzero(np.diff(starts)).tolist():
        size = inverted.list_size(number)
        if not size:
            continue
        codes = faiss.rev_swig_ptr(inverted.get_codes(number), size * index.code_size)
        vectors = np.frombuffer(codes, dtype=np.float16).reshape(size, index.d).astype(np.float32)
        if centroids is not None:
            vectors += centroids[number]
        askers = asking[starts[number] : starts[number + 1]]
        row, column, similarity = _above(queries[askers] @ vectors.T, thresholds[askers])
        rows.append(askers[row])
        ids.append(faiss.rev_swig_ptr(inverted.get_ids(number), size)[column])
        sims.append(similarity)
    if not rows:
        return Hits(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    return Hits(np.concatenate(rows), np.concatenate(ids), np.concatenate(sims).astype(np.float32))


@njit(cache=True, nogil=True)
def _queries_by_list(probed: np.ndarray, lists: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The queries that probe each list (`probed`: each query's lists, -1 for none), list after list: list i's are
    `asking[starts[i]:starts[i + 1]]`, in query order."""
    starts = np.zeros(lists + 1, dtype=np.int64)
    for query in range(probed.shape[0]):
        for k in range(probed.shape[1]):
            if probed[query, k] >= 0:
                starts[probed[query, k] + 1] += 1
    for i in range(lists):
        starts[i + 1] += starts[i]
    filled = starts[:-1].copy()
    asking = np.empty(starts[lists], dtype=np.int64)
    for query in range(probed.shape[0]):
        for k in range(probed.shape[1]):
            number = probed[query, k]
            if number >= 0:
                asking[filled[number]] = query
                filled[number] += 1
    return starts, asking


@njit(cache=True, nogil=True)
def _above(similarity: np.ndarray, limits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """(row, column, similarity) of each entry of `similarity` above its row's limit."""
    count = 0
    for row in range(similarity.shape[0]):
        for column in range(similarity.shape[1]):
            if similarity[row, column] > limits[row]:
                count += 1
    rows = np.empty(count, dtype=np.int64)
    columns = np.empty(count, dtype=np.int64)
    values = np.empty(count, dtype=np.float32)
    found = 0
    for row in range(similarity.shape[0]):
        for column in range(similarity.shape[1]):
            if similarity[row, column] > limits[row]:
                rows[found], columns[found], values[found] = row, column, similarity[row, column]
                found += 1
    return rows, columns, values


class Routes:
    """The lists each vector added in this process probes when it searches (its nearest first: the list it was
    added to), by vector id: on the night that adds a text and searches with it, its vector meets the coarse
    centroids once, not twice."""

    def __init__(self) -> None:
        self._ids: list[np.ndarray] = []
        self._probed: list[np.ndarray] = []
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, index: faiss.Index, vectors: np.ndarray, ids: np.ndarray, probes: int) -> None:
        """Add `vectors` under `ids` to the IVF `index`, each to its nearest list, remembering its `probes` nearest."""
        ivf = faiss.extract_index_ivf(index)
        _, probed = ivf.quantizer.search(vectors, min(probes, ivf.nlist))
        nearest = np.ascontiguousarray(probed[:, 0], dtype=np.int64)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        ivf.add_core(len(vectors), faiss.swig_ptr(vectors), faiss.swig_ptr(ids), faiss.swig_ptr(nearest))
        self._ids.append(ids)
        self._probed.append(probed.astype(np.int32))
        self._sorted = None

    def probed(self, index: faiss.Index, queries: np.ndarray, query_ids: np.ndarray | None) -> np.ndarray:
        """Each query's `index.nprobe` nearest lists: as remembered for a query whose id was added, else searched."""
        ivf = faiss.extract_index_ivf(index)
        found = np.full((len(queries), ivf.nprobe), -1, dtype=np.int64)
        known = np.zeros(len(queries), dtype=bool)
        if query_ids is not None and self._ids and self._probed[0].shape[1] == ivf.nprobe:
            ids, probed = self._by_id()
            position = np.minimum(np.searchsorted(ids, query_ids), len(ids) - 1)
            known = ids[position] == query_ids
            found[known] = probed[position[known]]
        if not known.all():
            found[~known] = ivf.quantizer.search(np.ascontiguousarray(queries[~known]), ivf.nprobe)[1]
        return found

    def _by_id(self) -> tuple[np.ndarray, np.ndarray]:
        if self._sorted is None:
            ids, probed = np.concatenate(self._ids), np.concatenate(self._probed)
            order = np.argsort(ids, kind="stable")
            self._sorted = ids[order], probed[order]
            self._ids, self._probed = [self._sorted[0]], [self._sorted[1]]
        return self._sorted


def _tail_path(path: Path, main_size: int) -> Path:
    """Where the tail of the main index file `path` holding `main_size` vectors is kept."""
    return path.with_name(f"{path.name.removesuffix('.faiss')}.tail-{main_size}.faiss")


def _read_tail(path: Path, index: faiss.Index, dim: int) -> faiss.Index | None:
    """The tail written after the main file at `path` (as read: `index`), if one is there and fits it."""
    tail_file = _tail_path(path, int(index.ntotal))
    tail = _read_index(tail_file, dim)
    if tail is None:
        return None
    if _is_flat(tail) or faiss.extract_index_ivf(tail).nlist != faiss.extract_index_ivf(index).nlist:
        log.warning("index tail %s does not fit %s: ignoring it (the store's vectors are added again)", tail_file, path)
        return None
    return tail


def _empty_like(index: faiss.Index, sample: np.ndarray) -> faiss.Index:
    """An empty IVF index on the centroids of `index` (float16 vectors, the same lists probed)."""
    ivf = faiss.extract_index_ivf(index)
    centroids = faiss.IndexFlatIP(ivf.d)
    centroids.add(ivf.quantizer.reconstruct_n(0, ivf.nlist))
    tail = faiss.IndexIVFScalarQuantizer(
        centroids, ivf.d, ivf.nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    tail.train(sample)  # the centroids are trained already: this only readies the float16 coder
    tail.nprobe = ivf.nprobe
    return tail


def _write_atomic(index: faiss.Index, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    faiss.write_index(index, str(temporary))
    with open(temporary, "rb") as written:
        os.fsync(written.fileno())
    os.replace(temporary, path)


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


def _build(
    dim: int, count: int, batches: Iterator[tuple[np.ndarray, np.ndarray]], exact_limit: int, routes: Routes
) -> faiss.Index:
    if count <= exact_limit:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        for ids, vectors in batches:
            index.add_with_ids(_as_matrix(vectors, dim), ids.astype(np.int64))
        return index
    # train on the first vectors that arrive, then stream the rest in: never all of them in float32 at once
    lists = lists_for(count)
    probes = probes_for(lists, count)
    pending_ids: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    ivf: faiss.Index | None = None
    for ids, vectors in batches:
        if ivf is not None:
            routes.add(ivf, _as_matrix(vectors, dim), ids, probes)
            continue
        pending_ids.append(ids)
        pending.append(_as_matrix(vectors, dim))
        if sum(len(p) for p in pending) >= TRAINING_PER_LIST * lists:
            ivf = _trained_ivf(np.concatenate(pending), lists=lists)
            routes.add(ivf, np.concatenate(pending), np.concatenate(pending_ids), probes)
            pending, pending_ids = [], []
    if ivf is None:
        vectors = np.concatenate(pending) if pending else np.zeros((0, dim), dtype=np.float32)
        ivf = _trained_ivf(vectors, lists=lists)
        if len(vectors):
            routes.add(ivf, vectors, np.concatenate(pending_ids), probes)
    return ivf
