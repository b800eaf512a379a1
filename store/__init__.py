"""The persistent store: articles, paragraphs, the embedding cache, pairs, threads and runs.

SQLite in a data folder by default (no server); any SQLAlchemy URL, e.g. PostgreSQL
(`postgresql+psycopg://user@host/db`), works the same. FAISS index files live in the
store's `index_dir`, beside the database. Nothing read back is unpickled: vectors are raw
float16 bytes (half the size of float32, cosine within 0.001) and evidence is JSON.
The store is the only package that imports SQLAlchemy.
"""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import LargeBinary, create_engine, func, insert, inspect, or_, select, text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from clustering.findings import Intake, ParagraphRow, StoredPair, StoredThread, ThreadEvent, ThreadUpdate
from clustering.groups import reporting_key
from store.articles import ArticlesMixin, set_per_article
from store.findings import FindingsMixin
from store.runs import RunsMixin, StoreBusy
from store.schema import (
    CHUNK,
    DATABASE_FILE,
    SCHEMA_VERSION,
    article_vectors_table,
    articles_by_passage_key,
    articles_by_reporting_key,
    articles_table,
    compact,
    content_hash,
    embedded_table,
    memberships_table,
    meta_table,
    metadata,
    pairs_table,
    paragraphs_table,
    runs_table,
    term_statistics_table,
    threads_table,
    vectors_in_order,
    vectors_table,
)
from store.vectors import VectorsMixin

log = logging.getLogger(__name__)


def _checked_url(url: str) -> str:
    if "://" not in url:
        raise ValueError(f"database URL {url!r} has no scheme; expected e.g. postgresql+psycopg://user@host/db")
    return url


def store_url(home: str | Path, db_url: str | None = None) -> str:
    """The database URL of the store in `home`: `db_url`, else SQLite in that folder."""
    return _checked_url(db_url or f"sqlite:///{(Path(home).expanduser() / DATABASE_FILE).resolve()}")


def database_failure(error: BaseException) -> str | None:
    """What went wrong, in one line, when `error` (or an error it came from) is the database failing under a run: a
    connection lost, a server gone, a disk full on its side; None for anything else. No SQL, no parameters."""
    for cause in _chain(error):
        if isinstance(cause, OperationalError | InterfaceError | DisconnectionError):
            original = getattr(cause, "orig", None) or cause
            first = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
            return first.split("[SQL:")[0].strip()
    return None


def shown_url(url: str) -> str:
    """A database URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _chain(error: BaseException) -> list[BaseException]:
    found, seen = [], set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


class NoStore(ValueError):
    """A command that reads a store was pointed at a folder or database that holds none."""


class Store(ArticlesMixin, VectorsMixin, FindingsMixin, RunsMixin):
    """All persistent state of storythreads, behind one SQLAlchemy engine."""

    def __init__(self, url: str, index_dir: Path) -> None:
        self.url = url
        self.index_dir = Path(index_dir)
        self.home = self.index_dir.parent
        self.index_dir.mkdir(parents=True, exist_ok=True)
        # SQL parameters are the articles' texts: never in an error message or a log
        self.engine: Engine = create_engine(url, future=True, hide_parameters=True)
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
        return cls(store_url(home, db_url), home / "index")

    @classmethod
    def open_existing(cls, home: str | Path, db_url: str | None = None) -> Store:
        """`open`, for a store a run has made; `NoStore`, naming where it looked, if none is there (creates nothing)."""
        folder = Path(home).expanduser()
        if db_url is None:
            if not (folder / DATABASE_FILE).is_file():
                raise NoStore(
                    f"no store in {str(folder)!r} (no {DATABASE_FILE} there); "
                    f"`storythreads run FILES --home {folder}` makes one"
                )
        else:
            engine = create_engine(_checked_url(db_url), hide_parameters=True)
            try:
                # connecting to SQLite would create the file: look for it first
                sqlite_file = engine.url.database if engine.dialect.name == "sqlite" else None
                reachable = sqlite_file is None or Path(sqlite_file).is_file()
                made = reachable and inspect(engine).has_table(meta_table.name)
            finally:
                engine.dispose()
            if not made:
                shown = engine.url.render_as_string(hide_password=True)
                raise NoStore(f"no store in database {shown!r}; `storythreads run FILES --db {shown}` makes one")
        return cls.open(folder, db_url)

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
                return
            if found not in {str(v) for v in range(1, SCHEMA_VERSION + 1)}:
                raise ValueError(
                    f"store {self.display_url} has schema version {found}; this storythreads expects "
                    f"{SCHEMA_VERSION}: point --home/--db at a new store"
                )
            # each version since the first only adds columns: an older store is upgraded where it stands
            if found == "1":
                connection.execute(text("ALTER TABLE articles ADD COLUMN published_offset INTEGER"))
            if found in ("1", "2"):
                # passage keys come as articles are prepared again: an older store's copies group by their text
                connection.execute(text("ALTER TABLE articles ADD COLUMN reporting_key VARCHAR(40)"))
                connection.execute(text("ALTER TABLE articles ADD COLUMN passage_key VARCHAR(40)"))
                articles_by_reporting_key.create(connection, checkfirst=True)
                articles_by_passage_key.create(connection, checkfirst=True)
                _fill_reporting_keys(connection)
            if found in ("1", "2", "3"):
                # kept preparations come as articles are prepared again: until then they are prepared as before
                connection.execute(text("ALTER TABLE articles ADD COLUMN prepared TEXT"))
            if found in ("1", "2", "3", "4"):
                # so do kept terms: an article is tokenised once more, then never again
                binary = LargeBinary().compile(dialect=connection.dialect)
                connection.execute(text(f"ALTER TABLE articles ADD COLUMN tokens {binary}"))
            if found != str(SCHEMA_VERSION):
                connection.execute(
                    update(meta_table).where(meta_table.c.key == "schema").values(value=str(SCHEMA_VERSION))
                )
                log.info("store %s upgraded from schema version %s to %d", self.display_url, found, SCHEMA_VERSION)

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


def _fill_reporting_keys(connection: Connection) -> None:
    """The reporting key of every stored article (`clustering.groups`), read and written a chunk at a time."""
    last = ""
    while True:
        rows = connection.execute(
            select(articles_table.c.id, articles_table.c.text)
            .where(articles_table.c.id > last)
            .order_by(articles_table.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        set_per_article(connection, "reporting_key", {row.id: reporting_key(row.text) for row in rows})
        last = rows[-1].id


__all__ = [
    "DATABASE_FILE",
    "Intake",
    "NoStore",
    "ParagraphRow",
    "Store",
    "StoreBusy",
    "StoredPair",
    "StoredThread",
    "ThreadEvent",
    "ThreadUpdate",
    "compact",
    "content_hash",
    "database_failure",
    "metadata",
    "shown_url",
    "store_url",
]
