"""The persistent store: articles, paragraphs, the embedding cache, pairs, threads and runs.

SQLite in a data folder by default (no server); any SQLAlchemy URL, e.g. PostgreSQL
(`postgresql+psycopg://user@host/db`), works the same. FAISS index files live in the
store's `index_dir`, beside the database. Nothing read back is unpickled: vectors are raw
float16 bytes (half the size of float32, cosine within 0.001) and evidence is JSON.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
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
    bindparam,
    create_engine,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from corpus.article import Article

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DATABASE_FILE = "storythreads.db"
_CHUNK = 500
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
    Column("origin", Text),
    Column("encoding", String(40)),
    Column("content_hash", String(40), nullable=False),
    Column("arrived_at", DateTime, nullable=False),
    Column("first_run", String(64), nullable=False),
    Column("updated_run", String(64), nullable=False),
    Column("analysed_encoder", String(200)),
    Column("label_terms", Text),
)
Index("articles_published", articles_table.c.published_at)
Index("articles_arrived", articles_table.c.arrived_at)

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


class StoreBusy(RuntimeError):
    """Another run holds the store's run lock."""


def content_hash(text: str) -> str:
    """The hash that identifies a text in the store (SHA-1 of its UTF-8 bytes)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Intake:
    """What a run's articles were, against the store: new, changed since stored, or unchanged."""

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParagraphRow:
    """A stored paragraph: offsets into the article text, hashes, and its furniture reason if any."""

    ordinal: int
    start: int
    end: int
    content_hash: str
    line_key: str | None
    furniture: str | None


@dataclass(frozen=True)
class StoredPair:
    """A duplicate pair as stored: its kind, score and evidence (the report's pair entry)."""

    article_a: str
    article_b: str
    kind: str
    score: float
    first: str | None
    evidence: dict[str, Any]
    encoder: str
    found_run: str


@dataclass(frozen=True)
class StoredThread:
    """A thread as stored, with its members."""

    id: str
    label: str
    created_run: str
    updated_run: str
    merged_into: str | None
    split_from: str | None
    members: list[str]


@dataclass(frozen=True)
class ThreadEvent:
    """A change to the threads recorded by a run: `new`, `grew`, `merge` or `split`."""

    run_id: str
    kind: str
    thread_id: str
    related: list[str]


@dataclass
class ThreadUpdate:
    """What the thread stage writes: memberships, labels and lifecycle changes of one run."""

    memberships: dict[str, str]
    """Article id -> thread id, for every article whose thread is set or changed."""
    labels: dict[str, str]
    created: dict[str, str | None]
    """New thread id -> the thread it split from (None for a new story)."""
    merged: dict[str, str]
    """Retired thread id -> the thread it was merged into."""
    events: list[ThreadEvent]


class Store:
    """All persistent state of storythreads, behind one SQLAlchemy engine."""

    def __init__(self, url: str, index_dir: Path) -> None:
        self.url = url
        self.index_dir = Path(index_dir)
        self.home = self.index_dir.parent
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            from sqlalchemy import event

            @event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(connection: Any, _record: Any) -> None:
                cursor = connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=30000")
                # a night writes millions of rows under random keys (content hashes): a page cache that
                # holds the indexes keeps that from turning into disk reads; WAL with NORMAL sync stays
                # consistent after a crash of the process or the machine
                cursor.execute("PRAGMA cache_size=-262144")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

        # two processes opening a new store at once would both see no tables and both create them
        with open(self.home / "schema.lock", "a+", encoding="utf-8") as schema_lock:
            fcntl.flock(schema_lock, fcntl.LOCK_EX)
            metadata.create_all(self.engine)
            vectors_in_order.create(self.engine, checkfirst=True)  # stores created before this index existed
            self._check_schema()

    @classmethod
    def open(cls, home: str | Path, db_url: str | None = None) -> Store:
        """The store in folder `home` (SQLite there unless `db_url` names another database)."""
        home = Path(home).expanduser()
        if home.exists() and not home.is_dir():
            raise ValueError(f"store home {str(home)!r} is a file; expected a folder (or a path to create one)")
        home.mkdir(parents=True, exist_ok=True)
        url = db_url or f"sqlite:///{(home / DATABASE_FILE).resolve()}"
        if "://" not in url:
            raise ValueError(f"database URL {url!r} has no scheme; expected e.g. postgresql+psycopg://user@host/db")
        return cls(url, home / "index")

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def display_url(self) -> str:
        """The database URL without its password, for logs and reports."""
        return self.engine.url.render_as_string(hide_password=True)

    def _check_schema(self) -> None:
        with self.engine.begin() as connection:
            found = connection.execute(select(meta_table.c.value).where(meta_table.c.key == "schema")).scalar()
            if found is None:
                connection.execute(insert(meta_table).values(key="schema", value=str(SCHEMA_VERSION)))
            elif found != str(SCHEMA_VERSION):
                raise ValueError(
                    f"store {self.display_url} has schema version {found}; this storythreads expects "
                    f"{SCHEMA_VERSION}: point --home/--db at a new store"
                )

    @contextmanager
    def run_lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the store's run lock (a file lock in the home folder, freed even if the process is killed).

        Waits up to `wait_seconds` for another run to finish, then raises `StoreBusy` naming it.
        """
        path = self.home / "run.lock"
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = path.read_text(encoding="utf-8").strip() or "unknown process"
                        raise StoreBusy(
                            f"another storythreads run ({holder}) is using the store in {self.home}; "
                            f"waited {wait_seconds:g} s. Let it finish, or wait longer with --lock-wait SECONDS "
                            "(STORYTHREADS_LOCK_WAIT)"
                        ) from None
                    time.sleep(0.2)
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {datetime.now().isoformat(timespec='seconds')}")
            handle.flush()
            yield
        finally:
            handle.close()  # closing the file releases the lock

    def check(self) -> list[str]:
        """Inconsistencies a completed run must not leave behind (empty when the store is sound)."""
        problems: list[str] = []
        with self.engine.connect() as connection:
            has_paragraphs = select(paragraphs_table.c.article_id).where(
                paragraphs_table.c.article_id == articles_table.c.id
            )
            no_paragraphs = connection.execute(
                select(articles_table.c.id).where(
                    articles_table.c.analysed_encoder.is_not(None), ~has_paragraphs.exists()
                )
            ).all()
            problems += [f"analysed article {row.id} has no paragraphs" for row in no_paragraphs]
            orphan_embedded = connection.execute(
                select(embedded_table.c.article_id, embedded_table.c.vector_id)
                .outerjoin(vectors_table, vectors_table.c.id == embedded_table.c.vector_id)
                .where(vectors_table.c.id.is_(None))
            ).all()
            problems += [f"article {r.article_id} refers to missing vector {r.vector_id}" for r in orphan_embedded]
            unprepared = connection.execute(
                select(embedded_table.c.article_id)
                .where(
                    ~select(paragraphs_table.c.article_id)
                    .where(paragraphs_table.c.article_id == embedded_table.c.article_id)
                    .exists()
                )
                .distinct()
            ).all()
            problems += [f"article {r.article_id} has vectors but no paragraphs" for r in unprepared]
            retired = connection.execute(
                select(memberships_table.c.article_id, memberships_table.c.thread_id)
                .join(threads_table, threads_table.c.id == memberships_table.c.thread_id)
                .where(threads_table.c.merged_into.is_not(None))
            ).all()
            problems += [f"article {r.article_id} is in retired thread {r.thread_id}" for r in retired]
            unanalysed = select(articles_table.c.id).where(articles_table.c.analysed_encoder.is_(None))
            unanalysed_pairs = connection.execute(
                select(pairs_table.c.article_a, pairs_table.c.article_b).where(
                    or_(pairs_table.c.article_a.in_(unanalysed), pairs_table.c.article_b.in_(unanalysed))
                )
            ).all()
            problems += [f"pair {r.article_a}/{r.article_b} of an unanalysed article" for r in unanalysed_pairs]
        return problems

    # runs

    def start_run(self, run_id: str, started_at: datetime, encoder: str) -> None:
        """Record that a run began; runs still marked running were interrupted (the caller holds the lock)."""
        with self.engine.begin() as connection:
            connection.execute(update(runs_table).where(runs_table.c.status == "running").values(status="interrupted"))
            connection.execute(delete(runs_table).where(runs_table.c.id == run_id))
            connection.execute(
                insert(runs_table).values(id=run_id, started_at=started_at, encoder=encoder, status="running")
            )

    def finish_run(self, run_id: str, finished_at: datetime, summary: dict[str, Any]) -> None:
        """Record that a run completed, with its summary."""
        with self.engine.begin() as connection:
            connection.execute(
                update(runs_table)
                .where(runs_table.c.id == run_id)
                .values(finished_at=finished_at, status="completed", summary=json.dumps(summary))
            )

    def runs(self) -> list[dict[str, Any]]:
        """Every recorded run, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(runs_table).order_by(runs_table.c.started_at)).mappings().all()
        return [dict(row) | {"summary": json.loads(row["summary"]) if row["summary"] else None} for row in rows]

    # articles

    def ingest(self, articles: Sequence[Article], run_id: str, now: datetime) -> Intake:
        """Add new articles, update those whose content changed, leave the rest untouched."""
        intake = Intake()
        if not articles:
            return intake
        by_id = {a.id: a for a in articles}
        with self.engine.begin() as connection:
            stored = {
                row.id: row.content_hash
                for chunk in _chunks(list(by_id))
                for row in connection.execute(
                    select(articles_table.c.id, articles_table.c.content_hash).where(articles_table.c.id.in_(chunk))
                )
            }
            fresh_rows = []
            for article in articles:
                digest = _article_hash(article)
                if article.id not in stored:
                    intake.new.append(article.id)
                    fresh_rows.append(_article_row(article, digest, run_id, now, first_run=run_id))
                elif stored[article.id] != digest:
                    intake.updated.append(article.id)
                else:
                    intake.unchanged.append(article.id)
            if fresh_rows:
                connection.execute(insert(articles_table), fresh_rows)
            for article_id in intake.updated:
                article = by_id[article_id]
                row = _article_row(article, _article_hash(article), run_id, now, first_run=None)
                _forget_analysis(connection, [article_id])
                connection.execute(update(articles_table).where(articles_table.c.id == article_id).values(**row))
        return intake

    def articles(self, ids: Iterable[str]) -> list[Article]:
        """The stored articles with these ids, in the order given (missing ids are left out)."""
        ids = list(ids)
        found: dict[str, Article] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(ids):
                for row in connection.execute(select(articles_table).where(articles_table.c.id.in_(chunk))).mappings():
                    found[row["id"]] = Article(
                        id=row["id"],
                        title=row["title"],
                        text=row["text"],
                        published_at=row["published_at"],
                        source=row["source"],
                        url=row["url"],
                        language=row["language"],
                        origin=row["origin"] or "",
                        encoding=row["encoding"],
                    )
        return [found[i] for i in ids if i in found]

    def article_facts(self, ids: Iterable[str], label_terms: bool = True) -> dict[str, dict[str, Any]]:
        """Report facts of articles (no text): title, source, dates, url, language, and label terms
        unless `label_terms` is False."""
        columns = [
            articles_table.c.id,
            articles_table.c.title,
            articles_table.c.source,
            articles_table.c.url,
            articles_table.c.language,
            articles_table.c.encoding,
            articles_table.c.published_at,
            articles_table.c.arrived_at,
            articles_table.c.first_run,
            *([articles_table.c.label_terms] if label_terms else []),
        ]
        facts: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(list(ids)):
                for row in connection.execute(select(*columns).where(articles_table.c.id.in_(chunk))).mappings():
                    facts[row["id"]] = dict(row)
        return facts

    def window(self, since: datetime) -> list[str]:
        """Ids of the articles published or arrived at or after `since`, sorted."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(articles_table.c.id)
                .where(or_(articles_table.c.arrived_at >= since, articles_table.c.published_at >= since))
                .order_by(articles_table.c.id)
            )
            return [row.id for row in rows]

    def not_analysed(self, ids: Iterable[str], encoder: str) -> list[str]:
        """Those of `ids` whose duplicates were never searched with `encoder` (new, changed, or interrupted)."""
        missing: list[str] = []
        with self.engine.connect() as connection:
            for chunk in _chunks(list(ids)):
                missing += [
                    row.id
                    for row in connection.execute(
                        select(articles_table.c.id).where(
                            articles_table.c.id.in_(chunk),
                            or_(
                                articles_table.c.analysed_encoder.is_(None),
                                articles_table.c.analysed_encoder != encoder,
                            ),
                        )
                    )
                ]
        return sorted(missing)

    def mark_analysed(self, ids: Iterable[str], encoder: str) -> None:
        """Record that `ids` were compared against the window with `encoder`."""
        with self.engine.begin() as connection:
            for chunk in _chunks(list(ids)):
                connection.execute(
                    update(articles_table).where(articles_table.c.id.in_(chunk)).values(analysed_encoder=encoder)
                )

    # paragraphs

    def save_paragraphs(self, paragraphs: dict[str, list[ParagraphRow]], label_terms: dict[str, str]) -> None:
        """Replace the stored paragraphs (and thread-label terms, space-separated) of these articles."""
        with self.engine.begin() as connection:
            ids = list(paragraphs)
            sources = {
                row.id: row.source
                for chunk in _chunks(ids)
                for row in connection.execute(
                    select(articles_table.c.id, articles_table.c.source).where(articles_table.c.id.in_(chunk))
                )
            }
            for chunk in _chunks(ids):
                connection.execute(delete(paragraphs_table).where(paragraphs_table.c.article_id.in_(chunk)))
            rows = [
                {
                    "article_id": article_id,
                    "ordinal": p.ordinal,
                    "start_offset": p.start,
                    "end_offset": p.end,
                    "content_hash": p.content_hash,
                    "line_key": p.line_key,
                    "source": sources.get(article_id),
                    "furniture": p.furniture,
                }
                for article_id, rows in paragraphs.items()
                for p in rows
            ]
            _insert_rows(connection, paragraphs_table, rows)
            if label_terms:
                connection.execute(
                    update(articles_table)
                    .where(articles_table.c.id == bindparam("article"))
                    .values(label_terms=bindparam("terms")),
                    [{"article": article_id, "terms": terms} for article_id, terms in label_terms.items()],
                )

    def paragraph_counts(self, ids: Iterable[str]) -> dict[str, int]:
        """How many paragraphs each article has (articles with none are left out)."""
        found: dict[str, int] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(list(ids)):
                query = (
                    select(paragraphs_table.c.article_id, func.count())
                    .where(paragraphs_table.c.article_id.in_(chunk))
                    .group_by(paragraphs_table.c.article_id)
                )
                found.update({article: count for article, count in connection.execute(query)})
        return found

    def furniture(self, ids: Iterable[str]) -> dict[str, list[ParagraphRow]]:
        """The paragraphs of each article that are site furniture, in order (articles with none left out)."""
        found: dict[str, list[ParagraphRow]] = defaultdict(list)
        with self.engine.connect() as connection:
            for chunk in _chunks(list(ids)):
                query = (
                    select(paragraphs_table)
                    .where(paragraphs_table.c.article_id.in_(chunk), paragraphs_table.c.furniture.is_not(None))
                    .order_by(paragraphs_table.c.article_id, paragraphs_table.c.ordinal)
                )
                for row in connection.execute(query).mappings():
                    found[row["article_id"]].append(
                        ParagraphRow(
                            row["ordinal"],
                            row["start_offset"],
                            row["end_offset"],
                            row["content_hash"],
                            row["line_key"],
                            row["furniture"],
                        )
                    )
        return dict(found)

    def line_counts(self, sources: Iterable[str | None], exclude: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per source, in how many stored articles (other than `exclude`) each short line occurs."""
        wanted = sorted({s for s in sources if s})
        excluded = set(exclude)
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        if not wanted:
            return {}
        with self.engine.connect() as connection:
            for chunk in _chunks(wanted):
                rows = connection.execute(
                    select(paragraphs_table.c.source, paragraphs_table.c.line_key, paragraphs_table.c.article_id)
                    .where(paragraphs_table.c.source.in_(chunk), paragraphs_table.c.line_key.is_not(None))
                    .distinct()
                )
                for source, key, article_id in rows:
                    if article_id not in excluded:
                        counts[source][key] = counts[source].get(key, 0) + 1
        return dict(counts)

    # the embedding cache

    def cached_vectors(self, encoder: str, kind: str, hashes: Iterable[str]) -> dict[str, tuple[int, np.ndarray]]:
        """Vectors already computed with `encoder` for texts with these hashes: hash -> (vector id, vector)."""
        found: dict[str, tuple[int, np.ndarray]] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(sorted(set(hashes))):
                query = select(vectors_table.c.content_hash, vectors_table.c.id, vectors_table.c.vector).where(
                    vectors_table.c.encoder == encoder,
                    vectors_table.c.kind == kind,
                    vectors_table.c.content_hash.in_(chunk),
                )
                for digest, vector_id, blob in connection.execute(query):
                    found[digest] = (vector_id, _vector(blob))
        return found

    def add_vectors(self, encoder: str, kind: str, vectors: dict[str, np.ndarray]) -> dict[str, int]:
        """Store new vectors (hash -> vector); returns hash -> vector id."""
        ids: dict[str, int] = {}
        items = list(vectors.items())
        with self.engine.begin() as connection:
            for start in range(0, len(items), 10_000):  # bounded memory for the blobs of one statement
                batch = items[start : start + 10_000]
                _insert_rows(
                    connection,
                    vectors_table,
                    [
                        {"encoder": encoder, "kind": kind, "content_hash": digest, "vector": _blob(vector)}
                        for digest, vector in batch
                    ],
                )
                for chunk in _chunks([digest for digest, _ in batch]):
                    query = select(vectors_table.c.content_hash, vectors_table.c.id).where(
                        vectors_table.c.encoder == encoder,
                        vectors_table.c.kind == kind,
                        vectors_table.c.content_hash.in_(chunk),
                    )
                    ids.update({digest: vector_id for digest, vector_id in connection.execute(query)})
        return ids

    def vector_ids(self, encoder: str, kind: str, hashes: Iterable[str]) -> dict[str, int]:
        """Vector ids of the cached texts among `hashes` (hash -> id), without reading the vectors."""
        found: dict[str, int] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(sorted(set(hashes))):
                query = select(vectors_table.c.content_hash, vectors_table.c.id).where(
                    vectors_table.c.encoder == encoder,
                    vectors_table.c.kind == kind,
                    vectors_table.c.content_hash.in_(chunk),
                )
                found.update({digest: vector_id for digest, vector_id in connection.execute(query)})
        return found

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
                    np.stack([_vector(r.vector) for r in rows]),
                )
                last = rows[-1].id

    def set_embedded(self, encoder: str, kind: str, vector_ids: dict[str, list[int]]) -> None:
        """Record, per article, the vector ids of its texts of `kind` in order (replacing earlier ones)."""
        with self.engine.begin() as connection:
            for chunk in _chunks(list(vector_ids)):
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
            _insert_rows(connection, embedded_table, rows)

    def owners(self, encoder: str, kind: str, vector_ids: Iterable[int]) -> dict[int, list[str]]:
        """The articles whose current text includes each vector."""
        found: dict[int, list[str]] = defaultdict(list)
        with self.engine.connect() as connection:
            for chunk in _chunks(sorted({int(v) for v in vector_ids})):
                query = (
                    select(embedded_table.c.vector_id, embedded_table.c.article_id)
                    .where(
                        embedded_table.c.encoder == encoder,
                        embedded_table.c.kind == kind,
                        embedded_table.c.vector_id.in_(chunk),
                    )
                    .distinct()
                )
                for vector_id, article_id in connection.execute(query):
                    found[vector_id].append(article_id)
        return dict(found)

    def save_article_vectors(self, encoder: str, vectors: dict[str, np.ndarray]) -> None:
        """Store (replace) the article vectors the thread stage clusters."""
        with self.engine.begin() as connection:
            for chunk in _chunks(list(vectors)):
                connection.execute(
                    delete(article_vectors_table).where(
                        article_vectors_table.c.encoder == encoder, article_vectors_table.c.article_id.in_(chunk)
                    )
                )
            if vectors:
                connection.execute(
                    insert(article_vectors_table),
                    [{"encoder": encoder, "article_id": a, "vector": _blob(v)} for a, v in vectors.items()],
                )

    def article_vector_ids(self, encoder: str, ids: Iterable[str]) -> set[str]:
        """Those of `ids` that have a stored article vector for `encoder`."""
        found: set[str] = set()
        with self.engine.connect() as connection:
            for chunk in _chunks(list(ids)):
                query = select(article_vectors_table.c.article_id).where(
                    article_vectors_table.c.encoder == encoder, article_vectors_table.c.article_id.in_(chunk)
                )
                found.update(connection.execute(query).scalars())
        return found

    def article_vectors(self, encoder: str, ids: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored article vectors for `encoder` (float16, as stored: a window's worth is hundreds of megabytes)."""
        found: dict[str, np.ndarray] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(list(ids)):
                query = select(article_vectors_table.c.article_id, article_vectors_table.c.vector).where(
                    article_vectors_table.c.encoder == encoder, article_vectors_table.c.article_id.in_(chunk)
                )
                for article_id, blob in connection.execute(query):
                    found[article_id] = _vector(blob, np.float16)
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

    # pairs

    def replace_pairs(self, article_ids: Iterable[str], pairs: Sequence[StoredPair]) -> None:
        """Drop the stored pairs that involve `article_ids` and store `pairs` in their place."""
        with self.engine.begin() as connection:
            _delete_pairs(connection, list(article_ids))
            if pairs:
                connection.execute(
                    insert(pairs_table),
                    [
                        {
                            "article_a": p.article_a,
                            "article_b": p.article_b,
                            "kind": p.kind,
                            "score": p.score,
                            "first": p.first,
                            "evidence": json.dumps(p.evidence, ensure_ascii=False),
                            "encoder": p.encoder,
                            "found_run": p.found_run,
                        }
                        for p in pairs
                    ],
                )

    def pairs_among(self, ids: Iterable[str]) -> list[StoredPair]:
        """Stored pairs whose two articles are both in `ids`, by score (highest first)."""
        wanted = set(ids)
        found: dict[tuple[str, str], StoredPair] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(sorted(wanted)):
                for row in connection.execute(select(pairs_table).where(pairs_table.c.article_a.in_(chunk))).mappings():
                    if row["article_b"] in wanted:
                        found[(row["article_a"], row["article_b"])] = StoredPair(
                            row["article_a"],
                            row["article_b"],
                            row["kind"],
                            row["score"],
                            row["first"],
                            json.loads(row["evidence"]),
                            row["encoder"],
                            row["found_run"],
                        )
        return sorted(found.values(), key=lambda p: (-p.score, p.article_a, p.article_b))

    # threads

    def memberships(self) -> dict[str, str]:
        """Article id -> thread id, for every article that has a thread."""
        with self.engine.connect() as connection:
            return {
                row.article_id: row.thread_id
                for row in connection.execute(select(memberships_table.c.article_id, memberships_table.c.thread_id))
            }

    def threads(self, include_retired: bool = False) -> dict[str, StoredThread]:
        """Stored threads with their members (retired, i.e. merged, ones only on request)."""
        members: dict[str, list[str]] = defaultdict(list)
        for article_id, thread_id in sorted(self.memberships().items()):
            members[thread_id].append(article_id)
        with self.engine.connect() as connection:
            query = select(threads_table)
            if not include_retired:
                query = query.where(threads_table.c.merged_into.is_(None))
            rows = connection.execute(query).mappings().all()
        return {
            row["id"]: StoredThread(
                row["id"],
                row["label"],
                row["created_run"],
                row["updated_run"],
                row["merged_into"],
                row["split_from"],
                members.get(row["id"], []),
            )
            for row in rows
        }

    def thread_ids_ever(self) -> set[str]:
        """Every thread id ever given out (ids are never reused)."""
        with self.engine.connect() as connection:
            return {row.id for row in connection.execute(select(threads_table.c.id))}

    def save_threads(self, run_id: str, change: ThreadUpdate) -> None:
        """Write one run's thread changes in one transaction."""
        with self.engine.begin() as connection:
            for thread_id, parent in change.created.items():
                connection.execute(
                    insert(threads_table).values(
                        id=thread_id,
                        label=change.labels.get(thread_id, ""),
                        created_run=run_id,
                        updated_run=run_id,
                        split_from=parent,
                    )
                )
            for thread_id, label in change.labels.items():
                if thread_id not in change.created:
                    connection.execute(update(threads_table).where(threads_table.c.id == thread_id).values(label=label))
            for retired, survivor in change.merged.items():
                connection.execute(
                    update(threads_table)
                    .where(threads_table.c.id == retired)
                    .values(merged_into=survivor, updated_run=run_id)
                )
            changed_threads = set(change.memberships.values())
            for chunk in _chunks(sorted(changed_threads)):
                connection.execute(
                    update(threads_table).where(threads_table.c.id.in_(chunk)).values(updated_run=run_id)
                )
            for chunk in _chunks(list(change.memberships)):
                connection.execute(delete(memberships_table).where(memberships_table.c.article_id.in_(chunk)))
            if change.memberships:
                connection.execute(
                    insert(memberships_table),
                    [
                        {"article_id": a, "thread_id": t, "joined_run": run_id}
                        for a, t in sorted(change.memberships.items())
                    ],
                )
            if change.events:
                connection.execute(
                    insert(thread_events_table),
                    [
                        {"run_id": e.run_id, "kind": e.kind, "thread_id": e.thread_id, "related": json.dumps(e.related)}
                        for e in change.events
                    ],
                )

    def thread_events(self, run_id: str | None = None) -> list[ThreadEvent]:
        """Recorded thread changes, oldest first (of one run when `run_id` is given)."""
        query = select(thread_events_table).order_by(thread_events_table.c.id)
        if run_id is not None:
            query = query.where(thread_events_table.c.run_id == run_id)
        with self.engine.connect() as connection:
            return [
                ThreadEvent(row["run_id"], row["kind"], row["thread_id"], json.loads(row["related"]))
                for row in connection.execute(query).mappings()
            ]

    def counts(self) -> dict[str, int]:
        """Rows per table, for checks and the `threads` command."""
        tables = [
            articles_table,
            paragraphs_table,
            vectors_table,
            embedded_table,
            article_vectors_table,
            term_statistics_table,
            pairs_table,
            threads_table,
            memberships_table,
            runs_table,
        ]
        with self.engine.connect() as connection:
            return {
                table.name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
                for table in tables
            }


def _forget_analysis(connection: Connection, ids: list[str]) -> None:
    """An article whose text changed keeps its id and thread; its paragraphs, vectors and pairs go."""
    for chunk in _chunks(ids):
        connection.execute(delete(paragraphs_table).where(paragraphs_table.c.article_id.in_(chunk)))
        connection.execute(delete(embedded_table).where(embedded_table.c.article_id.in_(chunk)))
        connection.execute(delete(article_vectors_table).where(article_vectors_table.c.article_id.in_(chunk)))
    _delete_pairs(connection, ids)


def _delete_pairs(connection: Connection, ids: list[str]) -> None:
    for chunk in _chunks(ids):
        connection.execute(
            delete(pairs_table).where(or_(pairs_table.c.article_a.in_(chunk), pairs_table.c.article_b.in_(chunk)))
        )


def _article_hash(article: Article) -> str:
    return content_hash(f"{article.title}\n\n{article.text}")


def _article_row(article: Article, digest: str, run_id: str, now: datetime, first_run: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": article.id,
        "title": article.title,
        "text": article.text,
        "source": article.source,
        "url": article.url,
        "language": article.language,
        "published_at": article.published_at,
        "origin": article.origin,
        "encoding": article.encoding,
        "content_hash": digest,
        "updated_run": run_id,
        "analysed_encoder": None,
        "label_terms": None,
    }
    if first_run is not None:
        row |= {"first_run": first_run, "arrived_at": now}
    return row


def _insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
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


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


_HALF = b"\x02"
"""First byte of a float16 vector blob. Its odd length tells it from the float32 blobs of older stores."""


def compact(vector: np.ndarray) -> np.ndarray:
    """`vector` as the store keeps it: rounded to float16 (returned as float32)."""
    return np.asarray(vector, dtype="<f2").astype(np.float32)


def _blob(vector: np.ndarray) -> bytes:
    return _HALF + np.ascontiguousarray(vector, dtype="<f2").tobytes()


def _vector(blob: bytes, dtype: type[np.floating] = np.float32) -> np.ndarray:
    if len(blob) % 2 and blob[:1] == _HALF:
        return np.frombuffer(blob, dtype="<f2", offset=1).astype(dtype)
    return np.frombuffer(blob, dtype="<f4").astype(dtype)
