"""The store's tables and the encodings of what they hold (content hashes, float16 vector blobs)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
)
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5
"""2: articles.published_offset; 3: articles.reporting_key and passage_key; 4: articles.prepared; 5:
articles.tokens (an older store gains them when opened)."""
DATABASE_FILE = "storythreads.db"
CHUNK = 500
"""Ids per `IN (...)` clause: SQLite allows a limited number of bound parameters."""

metadata = MetaData()

runs_table = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("encoder", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("summary", Text),
)

articles_table = Table(
    "articles",
    metadata,
    Column("id", String(400), primary_key=True),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("source", String(400)),
    Column("url", Text),
    Column("language", String(20)),
    Column("published_at", DateTime),
    Column("published_offset", Integer),
    Column("origin", Text),
    Column("encoding", String(40)),
    Column("content_hash", String(40), nullable=False),
    Column("arrived_at", DateTime, nullable=False),
    Column("first_run", String(64), nullable=False),
    Column("updated_run", String(64), nullable=False),
    Column("analysed_encoder", String(200)),
    Column("label_terms", Text),
    Column("reporting_key", String(40)),
    Column("passage_key", String(40)),
    Column("prepared", Text),
    Column("tokens", LargeBinary),
)
Index("articles_published", articles_table.c.published_at)
Index("articles_arrived", articles_table.c.arrived_at)
articles_by_reporting_key = Index("articles_reporting_key", articles_table.c.reporting_key)
articles_by_passage_key = Index("articles_passage_key", articles_table.c.passage_key)
"""Duplicate groups are found by key (`clustering.groups`): all copies of a text in one index range."""

paragraphs_table = Table(
    "paragraphs",
    metadata,
    Column("article_id", String(400), ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("ordinal", Integer, primary_key=True),
    Column("start_offset", Integer, nullable=False),
    Column("end_offset", Integer, nullable=False),
    Column("content_hash", String(40), nullable=False),
    Column("line_key", String(16)),
    Column("source", String(400)),
    Column("furniture", Text),
)
Index("paragraphs_line_key", paragraphs_table.c.source, paragraphs_table.c.line_key)

vectors_table = Table(
    "vectors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("encoder", String(200), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("content_hash", String(40), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    UniqueConstraint("encoder", "kind", "content_hash", name="vectors_key"),
)
vectors_in_order = Index("vectors_in_order", vectors_table.c.encoder, vectors_table.c.kind, vectors_table.c.id)
"""Reading one encoder's vectors in id order (index rebuilds) is a range scan, not a sort of them all."""

embedded_table = Table(
    "embedded",
    metadata,
    Column("encoder", String(200), primary_key=True),
    Column("article_id", String(400), ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(10), primary_key=True),
    Column("ordinal", Integer, primary_key=True),
    Column("vector_id", Integer, ForeignKey("vectors.id"), nullable=False),
)
Index("embedded_vector", embedded_table.c.vector_id)

article_vectors_table = Table(
    "article_vectors",
    metadata,
    Column("encoder", String(200), primary_key=True),
    Column("article_id", String(400), ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("vector", LargeBinary, nullable=False),
)

term_statistics_table = Table(
    "term_statistics",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("documents", Integer, nullable=False),
    Column("counts", LargeBinary, nullable=False),
)
"""Document frequencies behind the story vectors' IDF, one compressed table per vectoriser (see `clustering.story`)."""

pairs_table = Table(
    "pairs",
    metadata,
    Column("article_a", String(400), ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("article_b", String(400), ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("score", Float, nullable=False),
    Column("first", String(400)),
    Column("evidence", Text, nullable=False),
    Column("encoder", String(200), nullable=False),
    Column("found_run", String(64), nullable=False),
)
Index("pairs_b", pairs_table.c.article_b)

threads_table = Table(
    "threads",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("label", Text, nullable=False),
    Column("created_run", String(64), nullable=False),
    Column("updated_run", String(64), nullable=False),
    Column("merged_into", String(40)),
    Column("split_from", String(40)),
)

memberships_table = Table(
    "memberships",
    metadata,
    Column("article_id", String(400), ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("thread_id", String(40), ForeignKey("threads.id"), nullable=False),
    Column("joined_run", String(64), nullable=False),
)
Index("memberships_thread", memberships_table.c.thread_id)

thread_events_table = Table(
    "thread_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("thread_id", String(40), nullable=False),
    Column("related", Text, nullable=False),
)

meta_table = Table(
    "storythreads_meta",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)


def content_hash(text: str) -> str:
    """The hash that identifies a text in the store (SHA-1 of its UTF-8 bytes)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert plain rows (all with the same keys) with one driver-level executemany.

    SQLAlchemy's per-row parameter processing costs more than the insert itself for the
    millions of vector, paragraph and membership rows of a large night.
    """
    if not rows:
        return
    compiled = insert(table).compile(dialect=connection.dialect, column_keys=list(rows[0]))
    if connection.dialect.positional:
        order = compiled.positiontup or []
        connection.exec_driver_sql(str(compiled), [tuple(row[key] for key in order) for row in rows])
    else:
        connection.exec_driver_sql(str(compiled), rows)


def chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def compact(vector: np.ndarray) -> np.ndarray:
    """`vector` as the store keeps it: rounded to float16 (returned as float32)."""
    return np.asarray(vector, dtype="<f2").astype(np.float32)


_HALF = b"\x02"
"""First byte of a float16 vector blob. Its odd length tells it from the float32 blobs of older stores."""


def to_blob(vector: np.ndarray) -> bytes:
    return _HALF + np.ascontiguousarray(vector, dtype="<f2").tobytes()


def from_blob(blob: bytes, dtype: type[np.floating] = np.float32) -> np.ndarray:
    if len(blob) % 2 and blob[:1] == _HALF:
        return np.frombuffer(blob, dtype="<f2", offset=1).astype(dtype)
    return np.frombuffer(blob, dtype="<f4").astype(dtype)
