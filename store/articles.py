"""Articles and their paragraphs: intake, the retention window, what is analysed."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from clustering.findings import Intake, ParagraphRow
from clustering.groups import GroupMember, reporting_key
from corpus.article import Article
from store.schema import (
    article_vectors_table,
    articles_table,
    chunks,
    content_hash,
    embedded_table,
    insert_rows,
    pairs_table,
    paragraphs_table,
)

log = logging.getLogger(__name__)


class ArticlesMixin:
    """Articles and their paragraphs: intake, the retention window, what is analysed."""

    engine: Engine
    home: Path

    def ingest(self, articles: Sequence[Article], run_id: str, now: datetime) -> Intake:
        """Add new articles, update those whose content changed, leave the rest untouched."""
        intake = Intake()
        if not articles:
            return intake
        by_id = {a.id: a for a in articles}
        with self.engine.begin() as connection:
            stored = {
                row.id: row.content_hash
                for chunk in chunks(list(by_id))
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
            for chunk in chunks(ids):
                query = select(*(articles_table.c[column] for column in _ARTICLE_COLUMNS)).where(
                    articles_table.c.id.in_(chunk)
                )
                for row in connection.execute(query).mappings():
                    found[row["id"]] = Article(
                        id=row["id"],
                        title=row["title"],
                        text=row["text"],
                        published_at=row["published_at"],
                        published_offset=row["published_offset"],
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
            articles_table.c.published_offset,
            articles_table.c.arrived_at,
            articles_table.c.first_run,
            *([articles_table.c.label_terms] if label_terms else []),
        ]
        facts: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as connection:
            for chunk in chunks(list(ids)):
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
            for chunk in chunks(list(ids)):
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

    def group_members(self, ids: Iterable[str], encoder: str) -> list[GroupMember]:
        """Those of `ids` whose reporting or passage key another stored article shares (`clustering.groups`;
        a key shared only with articles outside `ids` makes a group of one there, which is no group)."""
        wanted = set(ids)
        reporting, passages = articles_table.c.reporting_key, articles_table.c.passage_key

        def shared(column: Any) -> Any:
            return select(column).where(column.is_not(None)).group_by(column).having(func.count() > 1)

        query = select(
            articles_table.c.id,
            reporting,
            passages,
            articles_table.c.published_at,
            articles_table.c.arrived_at,
            articles_table.c.analysed_encoder,
        ).where(or_(reporting.in_(shared(reporting)), passages.in_(shared(passages))))
        with self.engine.connect() as connection:
            return [
                GroupMember(row.id, row[1], row[2], row.published_at, row.arrived_at, row.analysed_encoder == encoder)
                for row in connection.execute(query)
                if row.id in wanted
            ]

    def leave_to_representatives(self, members: Iterable[str]) -> None:
        """Members of duplicate groups that were analysed on their own (before their group formed) are no
        longer: their pairs go, and the representative's stand for them."""
        members = list(members)
        with self.engine.begin() as connection:
            delete_pairs(connection, members)
            for chunk in chunks(members):
                connection.execute(
                    update(articles_table).where(articles_table.c.id.in_(chunk)).values(analysed_encoder=None)
                )

    def save_languages(self, languages: dict[str, str]) -> None:
        """Record the detected language of articles whose input gave none (a given language is kept)."""
        with self.engine.begin() as connection:
            for article_id, language in languages.items():
                connection.execute(
                    update(articles_table)
                    .where(articles_table.c.id == article_id, articles_table.c.language.is_(None))
                    .values(language=language)
                )

    def mark_analysed(self, ids: Iterable[str], encoder: str) -> None:
        """Record that `ids` were compared against the window with `encoder`."""
        with self.engine.begin() as connection:
            for chunk in chunks(list(ids)):
                connection.execute(
                    update(articles_table).where(articles_table.c.id.in_(chunk)).values(analysed_encoder=encoder)
                )

    def save_paragraphs(
        self,
        paragraphs: dict[str, list[ParagraphRow]],
        label_terms: dict[str, str],
        prepared: dict[str, str] | None = None,
        tokens: dict[str, bytes] | None = None,
        passage_keys: dict[str, str | None] | None = None,
    ) -> None:
        """Replace the stored paragraphs (and thread-label terms, space-separated, the kept preparation and terms, see
        `corpus.prepare.packed_preparation` and `kept_tokens`, and passage keys, `clustering.groups.passage_key`) of
        these articles."""
        with self.engine.begin() as connection:
            ids = list(paragraphs)
            sources = {
                row.id: row.source
                for chunk in chunks(ids)
                for row in connection.execute(
                    select(articles_table.c.id, articles_table.c.source).where(articles_table.c.id.in_(chunk))
                )
            }
            for chunk in chunks(ids):
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
            insert_rows(connection, paragraphs_table, rows)
            set_columns_per_article(
                connection,
                {"label_terms": label_terms, "prepared": prepared, "tokens": tokens, "passage_key": passage_keys},
            )

    def preparations(self, ids: Iterable[str]) -> dict[str, tuple[str, bytes | None]]:
        """The kept preparation and terms of each of these articles that has a preparation (see `save_paragraphs`)."""
        found: dict[str, tuple[str, bytes | None]] = {}
        with self.engine.connect() as connection:
            for chunk in chunks(list(ids)):
                query = select(articles_table.c.id, articles_table.c.prepared, articles_table.c.tokens).where(
                    articles_table.c.id.in_(chunk), articles_table.c.prepared.is_not(None)
                )
                found.update({row.id: (row.prepared, row.tokens) for row in connection.execute(query)})
        return found

    def paragraph_counts(self, ids: Iterable[str]) -> dict[str, int]:
        """How many paragraphs each article has (articles with none are left out)."""
        found: dict[str, int] = {}
        with self.engine.connect() as connection:
            for chunk in chunks(list(ids)):
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
            for chunk in chunks(list(ids)):
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
            for chunk in chunks(wanted):
                rows = connection.execute(
                    select(paragraphs_table.c.source, paragraphs_table.c.line_key, paragraphs_table.c.article_id)
                    .where(paragraphs_table.c.source.in_(chunk), paragraphs_table.c.line_key.is_not(None))
                    .distinct()
                )
                for source, key, article_id in rows:
                    if article_id not in excluded:
                        counts[source][key] = counts[source].get(key, 0) + 1
        return dict(counts)


_ARTICLE_COLUMNS = (
    "id",
    "title",
    "text",
    "published_at",
    "published_offset",
    "source",
    "url",
    "language",
    "origin",
    "encoding",
)
"""The columns an `Article` is made of (not what analysis keeps beside it)."""


def set_per_article(connection: Connection, column: str, values: dict[str, Any]) -> None:
    """Set one column of the `articles` rows with these ids, each to its own value, in one statement."""
    set_columns_per_article(connection, {column: values})


def set_columns_per_article(connection: Connection, columns: dict[str, dict[str, Any] | None]) -> None:
    """Set some columns of the `articles` rows, each article to its own values (an article missing from a
    column's values keeps that column). An article's row is written once for all the columns it gets: the
    row holds the article's text, which SQLite writes again on every update of the row."""
    given_columns = {column: values for column, values in columns.items() if values}
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for article in {article for values in given_columns.values() for article in values}:
        row = {f"new_{column}": values[article] for column, values in given_columns.items() if article in values}
        by_columns[tuple(row)].append({"article": article, **row})
    for given, rows in by_columns.items():
        connection.execute(
            update(articles_table)
            .where(articles_table.c.id == bindparam("article"))
            .values({name.removeprefix("new_"): bindparam(name) for name in given}),
            rows,
        )


def _forget_analysis(connection: Connection, ids: list[str]) -> None:
    """An article whose text changed keeps its id and thread; its paragraphs, vectors and pairs go."""
    for chunk in chunks(ids):
        connection.execute(delete(paragraphs_table).where(paragraphs_table.c.article_id.in_(chunk)))
        connection.execute(delete(embedded_table).where(embedded_table.c.article_id.in_(chunk)))
        connection.execute(delete(article_vectors_table).where(article_vectors_table.c.article_id.in_(chunk)))
    delete_pairs(connection, ids)


def delete_pairs(connection: Connection, ids: list[str]) -> None:
    for chunk in chunks(ids):
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
        "published_offset": article.published_offset,
        "origin": article.origin,
        "encoding": article.encoding,
        "content_hash": digest,
        "updated_run": run_id,
        "analysed_encoder": None,
        "label_terms": None,
        "prepared": None,
        "tokens": None,
        "reporting_key": reporting_key(article.text),
        "passage_key": None,
    }
    if first_run is not None:
        row |= {"first_run": first_run, "arrived_at": now}
    return row
