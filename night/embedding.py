"""Vectors of tonight's texts: passages, quotes and titles by the encoder (each distinct text once per encoder,
ever, from the store's cache), and each article's lead by a model."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from clustering.story import lead_text
from corpus.article import Passage, PreparedArticle
from corpus.language import language_of
from corpus.tokens import TermTable
from embeddings.encoders import Encoder, encode_texts
from executor import Executor
from night.faults import checkpoint
from store import Store, compact, content_hash

log = logging.getLogger(__name__)


KINDS = ("passage", "quote", "title")

EMBED_BATCH = 60_000
"""Texts encoded and cached per step of the embed stage: bounds the memory of one step (about 100 MB
of text and vectors) and gives the workers many batches of the lexical encoder's 4,096 texts."""


@dataclass
class Vectors:
    """Vectors of some prepared articles, per kind, rows in the order of their texts (float16, as stored)."""

    passages: np.ndarray
    quotes: np.ndarray
    titles: np.ndarray
    passage_ids: np.ndarray
    """The store's vector id of each passage row (one id per distinct text)."""
    quote_ids: np.ndarray
    added_ids: dict[str, np.ndarray] = field(default_factory=dict)
    """Per kind, the vector ids this call added to the store (texts never seen before: no stored article has them)."""
    embedded: int = 0
    """Texts encoded by this call (cache misses)."""
    reused: int = 0
    """Texts whose vectors came from the cache."""


def texts_of_kind(article: PreparedArticle, kind: str) -> list[str]:
    if kind == "passage":
        return [p.text for p in article.passages]
    if kind == "quote":
        return [q.text for q in article.quotes]
    return [article.article.title]


def embed_stored(
    store: Store,
    prepared: Sequence[PreparedArticle],
    encoder: Encoder,
    record: bool = True,
    executor: Executor | None = None,
    terms: TermTable | None = None,
) -> Vectors:
    """Vectors for every passage, quote and title, encoding only texts the cache lacks.

    Texts are produced as they are hashed or encoded, never all held at once; each distinct
    text has one row (copies and repeated furniture are encoded and held once). With
    `record`, which vectors each article has is written to the store (articles found through
    those records need no second write). An encoder that reads terms (the lexical one) encodes the
    passages and titles of articles prepared tonight from their terms, given the stems of `terms`;
    other texts it hashes on the `executor`'s workers, if it travels.
    """
    found = {kind: _KindVectors.of(store, prepared, encoder, kind) for kind in KINDS}
    for kind, vectors in found.items():
        vectors.encode_missing(store, prepared, encoder, terms, executor)
        if record:
            store.set_embedded(encoder.name, kind, vectors.ids_by_article(prepared))
    return Vectors(
        found["passage"].rows(),
        found["quote"].rows(),
        found["title"].rows(),
        found["passage"].row_ids(),
        found["quote"].row_ids(),
        {kind: np.asarray(vectors.added, dtype=np.int64) for kind, vectors in found.items()},
        sum(len(vectors.missing) for vectors in found.values()),
        sum(len(vectors.hashes) - len(vectors.missing) for vectors in found.values()),
    )


@dataclass
class _KindVectors:
    """The vectors of one kind of text of some articles while they are found: one row per distinct text."""

    kind: str
    hashes: list[str]
    """The content hash of each text, in the articles' order."""
    position: dict[str, int]
    """Each distinct text's row."""
    matrix: np.ndarray
    ids: np.ndarray
    missing: set[str]
    added: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, store: Store, prepared: Sequence[PreparedArticle], encoder: Encoder, kind: str) -> _KindVectors:
        """The texts of `kind`, with the vectors the store's cache has for them."""
        hashes = [content_hash(t) for a in prepared for t in texts_of_kind(a, kind)]
        position: dict[str, int] = {}
        for digest in hashes:
            position.setdefault(digest, len(position))
        # float16 holds the vectors exactly: they are rounded to it before they are stored
        matrix = np.zeros((len(position), encoder.dim), dtype=np.float16)
        ids = np.zeros(len(position), dtype=np.int64)
        for digest, (vector_id, vector) in store.cached_vectors(encoder.name, kind, position).items():
            matrix[position[digest]] = vector
            ids[position[digest]] = vector_id
        missing = {digest for digest, row in position.items() if not ids[row]}
        return cls(kind, hashes, position, matrix, ids, missing)

    def encode_missing(
        self,
        store: Store,
        prepared: Sequence[PreparedArticle],
        encoder: Encoder,
        terms: TermTable | None,
        executor: Executor | None,
    ) -> None:
        """Encode the texts the cache lacks, `EMBED_BATCH` at a time, and cache them."""
        texts = (
            (text, found)
            for a in prepared
            for text, found in zip(texts_of_kind(a, self.kind), _terms(a, self.kind), strict=True)
        )
        pending = set(self.missing)
        batch: dict[str, tuple[str, np.ndarray | None]] = {}
        for digest, text in zip(self.hashes, texts, strict=True):
            if digest in pending:
                pending.discard(digest)
                batch[digest] = text
                if len(batch) == EMBED_BATCH:
                    self._encode(store, encoder, batch, terms, executor)
                    batch = {}
        if batch:
            self._encode(store, encoder, batch, terms, executor)
        if self.missing:
            checkpoint(f"embed: {self.kind} vectors cached")

    def _encode(
        self,
        store: Store,
        encoder: Encoder,
        batch: dict[str, tuple[str, np.ndarray | None]],
        terms: TermTable | None,
        executor: Executor | None,
    ) -> None:
        # tonight's vectors exactly as the cache will give them back on later nights
        encoded = compact(_encoded(encoder, list(batch.values()), terms, executor))
        added = store.add_vectors(encoder.name, self.kind, dict(zip(batch, encoded, strict=True)))
        rows = [self.position[h] for h in batch]
        self.matrix[rows] = encoded
        self.ids[rows] = [added[h] for h in batch]
        self.added.extend(added.values())

    def _row_of_text(self) -> np.ndarray:
        return np.fromiter((self.position[h] for h in self.hashes), dtype=np.int64, count=len(self.hashes))

    def rows(self) -> np.ndarray:
        """The vector of each text, in the articles' order."""
        return self.matrix[self._row_of_text()]

    def row_ids(self) -> np.ndarray:
        """The store's vector id of each text, in the articles' order."""
        return self.ids[self._row_of_text()]

    def ids_by_article(self, prepared: Sequence[PreparedArticle]) -> dict[str, list[int]]:
        """Each article's vector ids of this kind, in order."""
        row_ids = self.row_ids()
        found: dict[str, list[int]] = {}
        row = 0
        for article in prepared:
            count = len(texts_of_kind(article, self.kind))
            found[article.article.id] = row_ids[row : row + count].tolist()
            row += count
        return found


def _terms(article: PreparedArticle, kind: str) -> list[np.ndarray | None]:
    """The term ids of the article's texts of `kind` (see `_texts`), where its preparation found them."""
    if kind == "passage" and article.tokens is not None:
        return article.tokens.ids_within([(p.start, p.end) for p in article.passages])
    if kind == "title" and article.title_tokens is not None:
        return [article.title_tokens.ids]
    return [None] * len(texts_of_kind(article, kind))


def _encoded(
    encoder: Encoder, texts: list[tuple[str, np.ndarray | None]], terms: TermTable | None, executor: Executor | None
) -> np.ndarray:
    """Vectors of `texts` (each a text and, where known, its term ids): by their terms when the encoder reads
    terms and `terms` has their stems, else by their wording."""
    by_terms = getattr(encoder, "encode_terms", None)
    if by_terms is not None and terms is not None and all(found is not None for _, found in texts):
        try:
            return by_terms([found for _, found in texts], terms)
        except KeyError:  # a term tonight's preparation did not find (a stored article's): by the wording
            pass
    return encode_texts(encoder, [text for text, _ in texts], executor)


def lead_vectors(store: Store, prepared: Sequence[PreparedArticle], model: Encoder) -> tuple[np.ndarray, int]:
    """(the model's vector of each article's lead, leads encoded now); each distinct lead is encoded once, ever."""
    leads = [lead_text(a.article.title, [p.text for p in a.paragraphs if p.boilerplate is None]) for a in prepared]
    hashes = [content_hash(lead) for lead in leads]
    vectors, encoded = _encoded_once(store, model, "lead", dict(zip(hashes, leads, strict=True)))
    matrix = np.stack([vectors[digest] for digest in hashes]) if hashes else np.zeros((0, model.dim))
    return matrix.astype(np.float32), encoded


def _encoded_once(
    store: Store, model: Encoder, kind: str, texts: dict[str, str], also_kinds: Sequence[str] = ()
) -> tuple[dict[str, np.ndarray], int]:
    """The model's vector of each text (keyed by its content hash): kept in the store under `kind` (or one
    of `also_kinds`), else encoded now and kept under `kind`; and how many were encoded now."""
    vectors: dict[str, np.ndarray] = {}
    missing = list(texts)
    for name in (kind, *also_kinds):
        kept = store.cached_vectors(model.name, name, missing)
        vectors.update({digest: vector for digest, (_, vector) in kept.items()})
        missing = [digest for digest in missing if digest not in vectors]
    if missing:
        encoded = compact(model.encode([texts[digest] for digest in missing]))
        store.add_vectors(model.name, kind, dict(zip(missing, encoded, strict=True)))
        vectors.update(zip(missing, encoded, strict=True))
    return vectors, len(missing)


def lead_name(model: Encoder) -> str:
    """The name each article's lead vector is stored under, for finding tomorrow's candidates among them."""
    return f"{model.name}:lead"


def article_languages(store: Store, prepared: Sequence[PreparedArticle]) -> list[str | None]:
    """Each article's language: the input's, else one detected before and stored, else detected now and stored."""
    stored = store.article_facts([a.article.id for a in prepared if not a.article.language], label_terms=False)
    languages = [
        (a.article.language or stored.get(a.article.id, {}).get("language") or "").lower() or None for a in prepared
    ]
    detected = {a.article.id: language_of(a) for a, x in zip(prepared, languages, strict=True) if x is None}
    store.save_languages({a: language for a, language in detected.items() if language})
    return [x if x is not None else detected[a.article.id] for a, x in zip(prepared, languages, strict=True)]


def passage_vectors(store: Store, passages: dict[str, list[Passage]], model: Encoder) -> dict[str, np.ndarray]:
    """The model's vector of each passage, by article; each distinct passage is encoded once, ever."""
    hashes = {a: [content_hash(p.text) for p in found] for a, found in passages.items()}
    texts = {digest: p.text for a, found in passages.items() for digest, p in zip(hashes[a], found, strict=True)}
    # a short article's only passage is often its whole lead: the same text, already read
    vectors, _ = _encoded_once(store, model, "passage", texts, also_kinds=("lead",))
    return {
        a: np.stack([vectors[d] for d in digests]).astype(np.float32) if digests else np.zeros((0, model.dim))
        for a, digests in hashes.items()
    }
