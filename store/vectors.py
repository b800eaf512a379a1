"""Vectors: the embedding cache, which article has which vector, story vectors and term statistics."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from sqlalchemy import (
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection, Engine

from store.schema import (
    article_vectors_table,
    chunks,
    embedded_table,
    from_blob,
    insert_rows,
    term_statistics_table,
    to_blob,
    vectors_table,
)

log = logging.getLogger(__name__)

VECTOR_BATCH = 10_000
"""Vectors inserted by one statement: bounds the memory of their blobs."""


class VectorsMixin:
    """Vectors: the embedding cache, which article has which vector, story vectors and term statistics."""

    engine: Engine
    home: Path

    def cached_vectors(self, encoder: str, kind: str, hashes: Iterable[str]) -> dict[str, tuple[int, np.ndarray]]:
        """Vectors already computed with `encoder` for texts with these hashes: hash -> (vector id, vector)."""
        found: dict[str, tuple[int, np.ndarray]] = {}
        with self.engine.connect() as connection:
            if not _any_vectors(connection, encoder, kind):  # a first night: no text to look up one by one
                return found
            for chunk in chunks(sorted(set(hashes))):
                query = select(vectors_table.c.content_hash, vectors_table.c.id, vectors_table.c.vector).where(
                    vectors_table.c.encoder == encoder,
                    vectors_table.c.kind == kind,
                    vectors_table.c.content_hash.in_(chunk),
                )
                for digest, vector_id, blob in connection.execute(query):
                    found[digest] = (vector_id, from_blob(blob))
        return found

    def vector_ids(self, encoder: str, kind: str, hashes: Iterable[str]) -> dict[str, int]:
        """The ids of the vectors already computed with `encoder` for texts with these hashes (not the vectors)."""
        with self.engine.connect() as connection:
            return _ids_by_hash(connection, encoder, kind, sorted(set(hashes)))

    def add_vectors(self, encoder: str, kind: str, vectors: dict[str, np.ndarray]) -> dict[str, int]:
        """Store new vectors (hash -> vector); returns hash -> vector id."""
        ids: dict[str, int] = {}
        items = list(vectors.items())
        with self.engine.begin() as connection:
            for start in range(0, len(items), VECTOR_BATCH):
                batch = items[start : start + VECTOR_BATCH]
                insert_rows(
                    connection,
                    vectors_table,
                    [
                        {"encoder": encoder, "kind": kind, "content_hash": digest, "vector": to_blob(vector)}
                        for digest, vector in batch
                    ],
                )
                if connection.dialect.name == "sqlite":
                    # SQLite gives each row the largest rowid plus one, and this transaction holds the only
                    # write lock: the batch's ids are the last len(batch), in order, with no lookup by hash
                    last = int(connection.execute(select(func.max(vectors_table.c.id))).scalar_one())
                    digests = [digest for digest, _ in batch]
                    ids.update(zip(digests, range(last - len(batch) + 1, last + 1), strict=True))
                else:
                    ids.update(_ids_by_hash(connection, encoder, kind, [digest for digest, _ in batch]))
        return ids

    def vector_count(self, encoder: str, kind: str) -> int:
        """How many vectors of this kind the cache holds for `encoder`."""
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(vectors_table)
                    .where(vectors_table.c.encoder == encoder, vectors_table.c.kind == kind)
                ).scalar_one()
            )

    def vectors_after(
        self, encoder: str, kind: str, skip: int, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of the cache in id order, skipping the first `skip`, in batches."""
        kind_filter = (vectors_table.c.encoder == encoder, vectors_table.c.kind == kind)
        with self.engine.connect() as connection:
            # one OFFSET to find where to start, then keyset pages: OFFSET on every page rescans from the start
            last = (
                connection.execute(
                    select(vectors_table.c.id)
                    .where(*kind_filter)
                    .order_by(vectors_table.c.id)
                    .offset(skip - 1)
                    .limit(1)
                ).scalar()
                if skip
                else 0
            )
            if last is None:
                return
            while True:
                rows = connection.execute(
                    select(vectors_table.c.id, vectors_table.c.vector)
                    .where(*kind_filter, vectors_table.c.id > last)
                    .order_by(vectors_table.c.id)
                    .limit(batch)
                ).all()
                if not rows:
                    return
                yield (
                    np.array([r.id for r in rows], dtype=np.int64),
                    np.stack([from_blob(r.vector) for r in rows]),
                )
                last = rows[-1].id

    def vector_ids_after(self, encoder: str, kind: str, skip: int) -> np.ndarray:
        """The ids of the cache's vectors in id order, skipping the first `skip` (ids only: no vector is read)."""
        kind_filter = (vectors_table.c.encoder == encoder, vectors_table.c.kind == kind)
        with self.engine.connect() as connection:
            query = select(vectors_table.c.id).where(*kind_filter).order_by(vectors_table.c.id).offset(skip)
            return np.array(connection.execute(query).scalars().all(), dtype=np.int64)

    def set_embedded(self, encoder: str, kind: str, vector_ids: dict[str, list[int]]) -> None:
        """Record, per article, the vector ids of its texts of `kind` in order (replacing earlier ones)."""
        with self.engine.begin() as connection:
            for chunk in chunks(list(vector_ids)):
                connection.execute(
                    delete(embedded_table).where(
                        embedded_table.c.encoder == encoder,
                        embedded_table.c.kind == kind,
                        embedded_table.c.article_id.in_(chunk),
                    )
                )
            rows = [
                {"encoder": encoder, "article_id": article_id, "kind": kind, "ordinal": i, "vector_id": vector_id}
                for article_id, ids in vector_ids.items()
                for i, vector_id in enumerate(ids)
            ]
            insert_rows(connection, embedded_table, rows)

    def owners(self, encoder: str, kind: str, vector_ids: Iterable[int]) -> dict[int, list[str]]:
        """The articles whose current text includes each vector."""
        found: dict[int, list[str]] = defaultdict(list)
        with self.engine.connect() as connection:
            for chunk in chunks(sorted({int(v) for v in vector_ids})):
                # a vector id is one encoder's and one kind's already: asking for them too let SQLite,
                # without statistics, scan the encoder's whole primary-key range for every chunk
                query = (
                    select(
                        embedded_table.c.vector_id,
                        embedded_table.c.article_id,
                        embedded_table.c.encoder,
                        embedded_table.c.kind,
                    )
                    .where(embedded_table.c.vector_id.in_(chunk))
                    .distinct()
                )
                for vector_id, article_id, vector_encoder, vector_kind in connection.execute(query):
                    if (vector_encoder, vector_kind) == (encoder, kind):
                        found[vector_id].append(article_id)
        return dict(found)

    def save_article_vectors(self, encoder: str, vectors: dict[str, np.ndarray]) -> None:
        """Store (replace) the article vectors the thread stage clusters."""
        with self.engine.begin() as connection:
            for chunk in chunks(list(vectors)):
                connection.execute(
                    delete(article_vectors_table).where(
                        article_vectors_table.c.encoder == encoder, article_vectors_table.c.article_id.in_(chunk)
                    )
                )
            if vectors:
                connection.execute(
                    insert(article_vectors_table),
                    [{"encoder": encoder, "article_id": a, "vector": to_blob(v)} for a, v in vectors.items()],
                )

    def article_vector_ids(self, encoder: str, ids: Iterable[str]) -> set[str]:
        """Those of `ids` that have a stored article vector for `encoder`."""
        found: set[str] = set()
        with self.engine.connect() as connection:
            for chunk in chunks(list(ids)):
                query = select(article_vectors_table.c.article_id).where(
                    article_vectors_table.c.encoder == encoder, article_vectors_table.c.article_id.in_(chunk)
                )
                found.update(connection.execute(query).scalars())
        return found

    def article_vectors(self, encoder: str, ids: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored article vectors for `encoder` (float16, as stored: a window's worth is hundreds of megabytes)."""
        found: dict[str, np.ndarray] = {}
        with self.engine.connect() as connection:
            for chunk in chunks(list(ids)):
                query = select(article_vectors_table.c.article_id, article_vectors_table.c.vector).where(
                    article_vectors_table.c.encoder == encoder, article_vectors_table.c.article_id.in_(chunk)
                )
                for article_id, blob in connection.execute(query):
                    found[article_id] = from_blob(blob, np.float16)
        return found

    def term_statistics(self, name: str) -> tuple[int, bytes] | None:
        """(articles counted, compressed counts) stored under `name`, or None before the first night."""
        with self.engine.connect() as connection:
            query = select(term_statistics_table.c.documents, term_statistics_table.c.counts)
            row = connection.execute(query.where(term_statistics_table.c.name == name)).first()
        return (int(row[0]), bytes(row[1])) if row else None

    def save_term_statistics(self, name: str, documents: int, counts: bytes) -> None:
        """Store (replace) the term statistics under `name`."""
        with self.engine.begin() as connection:
            connection.execute(delete(term_statistics_table).where(term_statistics_table.c.name == name))
            connection.execute(insert(term_statistics_table).values(name=name, documents=documents, counts=counts))


def _any_vectors(connection: Connection, encoder: str, kind: str) -> bool:
    """Whether the cache holds any vector of `encoder` and `kind`."""
    query = select(vectors_table.c.id).where(vectors_table.c.encoder == encoder, vectors_table.c.kind == kind)
    return connection.execute(query.limit(1)).first() is not None


def _ids_by_hash(connection: Connection, encoder: str, kind: str, hashes: list[str]) -> dict[str, int]:
    """hash -> vector id of the stored vectors of `encoder` and `kind` among `hashes`."""
    found: dict[str, int] = {}
    for chunk in chunks(hashes):
        query = select(vectors_table.c.content_hash, vectors_table.c.id).where(
            vectors_table.c.encoder == encoder,
            vectors_table.c.kind == kind,
            vectors_table.c.content_hash.in_(chunk),
        )
        found.update({digest: vector_id for digest, vector_id in connection.execute(query)})
    return found
