"""Encoders turn passages into unit-length vectors whose inner product is their similarity."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from corpus.tokens import TermTable, tokenise
from embeddings.ngram_kernel import term_ngram_hashes, term_ngram_sums
from executor import Executor, map_chunks

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"


@runtime_checkable
class Encoder(Protocol):
    """Anything that embeds texts into L2-normalised float32 vectors.

    `name` identifies the vectors: two encoders with the same name must give the same
    vector for the same text, so stored vectors can be reused across runs.
    `candidate_threshold` is the cosine above which two passages are worth verifying (an encoder may
    have a lower `short_candidate_threshold` for the one passage of a short article: see
    `short_candidate_threshold`).
    """

    name: str
    dim: int
    candidate_threshold: float

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; returns an array of shape (len(texts), dim), rows of unit length."""
        ...


def short_candidate_threshold(encoder: Encoder) -> float:
    """The threshold for searching with the one passage of a short article: the encoder's own, else its usual one."""
    return float(getattr(encoder, "short_candidate_threshold", encoder.candidate_threshold))


def encode_texts(encoder: Encoder, texts: Sequence[str], executor: Executor | None = None) -> np.ndarray:
    """`encoder.encode(texts)`; an encoder that travels (`travels = True`) hashes batches on `executor`'s workers.

    A model stays in the run's process, which has it loaded (torch spreads a batch over the cores itself).
    """
    if executor is not None and getattr(encoder, "travels", False):
        return encoder.encode_on(executor, texts)  # type: ignore[attr-defined]
    return encoder.encode(texts)


class LexicalEncoder:
    """Hashed character n-grams of the folded, stemmed content words; no weights, no corpus.

    N-grams stay inside words (each word padded with spaces), so word order does not change
    the vector: a passage with shuffled words is as close to its source as a verbatim copy.
    The same text always maps to the same vector, whatever else is in the corpus, so stored
    vectors stay valid from one run to the next. A text's vector depends on its terms only, so a
    night encodes its passages from the terms its preparation found (`encode_terms`), each distinct
    term's n-grams hashed once.
    """

    def __init__(self, dim: int = 256, ngram_sizes: tuple[int, ...] = (3, 4), batch_size: int | None = None):
        if dim < 16 or dim & (dim - 1):
            raise ValueError(f"LexicalEncoder dim must be a power of two >= 16, got {dim}")
        if not ngram_sizes or min(ngram_sizes) < 1:
            raise ValueError(f"LexicalEncoder ngram_sizes must be positive, got {ngram_sizes}")
        self.dim = dim
        self.ngram_sizes = tuple(sorted(ngram_sizes))
        self.batch_size = batch_size or LEXICAL_BATCH
        self._hashed: tuple[TermTable, np.ndarray, np.ndarray] | None = None
        # v3: the terms of `corpus.tokens`, junk (runs without spaces, encoded blobs) left out
        self.name = f"lexical-v3-char{'-'.join(map(str, self.ngram_sizes))}-d{dim}"
        # every annotated reused window pair of the Arabic dev corpus scores >= 0.35,
        # paraphrased and word-shuffled ones included (bench/quality.py)
        self.candidate_threshold = 0.35
        # a short article's one passage shares a third of another's words at about 0.25 to 0.4: a lower
        # threshold for those queries only (`bench.quality short`), the rest are most of the search
        self.short_candidate_threshold = 0.25

    travels = True
    """A few numbers to pickle: `encode_on` sends it to an executor's workers with each batch."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` (original or folded wording; both give the same vector)."""
        return self.encode_on(None, texts)

    def encode_on(self, executor: Executor | None, texts: Sequence[str]) -> np.ndarray:
        """`encode`, with batches hashed on the `executor`'s workers (they are independent)."""
        batches = map_chunks(executor, self.encode_batch, texts, self.batch_size)
        return np.concatenate(batches) if batches else np.zeros((0, self.dim), dtype=np.float32)

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed one batch of `texts` (see `encode`): tokenised, then encoded by their terms."""
        found = tokenise(list(texts))
        terms = [found.ids[found.firsts[i] : found.firsts[i + 1]] for i in range(len(found))]
        return self.encode_terms(terms, TermTable.of(found))

    def encode_terms(self, texts: Sequence[np.ndarray], table: TermTable) -> np.ndarray:
        """Embed texts given as their term ids (`corpus.tokens`); `table` holds the stem of every one of them."""
        sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        bounds = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(sizes, out=bounds[1:])
        every = np.concatenate(texts).astype(np.uint64) if len(texts) else np.zeros(0, np.uint64)
        hashes, starts = self._term_hashes(table)
        sums = term_ngram_sums(table.rows(every).astype(np.int64), bounds, hashes, starts, self.dim)
        return _normalise(sums.astype(np.float32))

    def _term_hashes(self, table: TermTable) -> tuple[np.ndarray, np.ndarray]:
        """Each term's n-gram hashes, worked out once per table."""
        if self._hashed is None or self._hashed[0] is not table:
            sizes = np.array(self.ngram_sizes, dtype=np.int64)
            self._hashed = (table, *term_ngram_hashes(table.codes, table.bounds, sizes))
        return self._hashed[1], self._hashed[2]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_hashed": None}


LEXICAL_BATCH = 4096
"""Texts the lexical encoder hashes at once (one task on a worker); never changes a vector."""


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors


class SentenceTransformerEncoder:
    """A sentence-transformers model, from a model id (hub or local cache) or a local folder.

    `max_tokens` cuts each text to that many tokens (cost grows with length; a lead needs few).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str | None = None,
        batch_size: int = 64,
        local_files_only: bool = False,
        max_tokens: int | None = None,
    ) -> None:
        from sentence_transformers import SentenceTransformer  # heavy import, only when used

        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_tokens is not None and max_tokens < 8:
            raise ValueError(f"max_tokens must be at least 8, got {max_tokens}")
        self._model: Any = SentenceTransformer(model, device=device, local_files_only=local_files_only)
        if max_tokens is not None:
            self._model.max_seq_length = min(max_tokens, self._model.max_seq_length or max_tokens)
        self.batch_size = batch_size
        # sentence-transformers 6 renamed the method; older releases only have the long name
        get_dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        dim = get_dimension()
        if dim is None:
            raise ValueError(f"model {model!r} does not declare an embedding dimension")
        self.dim = int(dim)
        label = Path(model).name if Path(model).exists() else model
        # a shorter input is another vector: the cut is part of the name
        self.name = f"st-{label}" if max_tokens is None else f"st-{label}-t{self._model.max_seq_length}"
        self.candidate_threshold = 0.75

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` with the model, normalised to unit length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
