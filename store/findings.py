"""Findings: duplicate pairs, threads and their memberships and events."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import (
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from clustering.findings import PairKey, StoredPair, StoredThread, ThreadUpdate
from store.articles import delete_pairs
from store.schema import (
    chunks,
    memberships_table,
    pairs_table,
    thread_events_table,
    threads_table,
)

log = logging.getLogger(__name__)


class FindingsMixin:
    """Findings: duplicate pairs, threads and their memberships and events."""

    engine: Engine
    home: Path

    def replace_pairs(self, article_ids: Iterable[str], pairs: Sequence[StoredPair]) -> None:
        """Drop the stored pairs that involve `article_ids` and store `pairs` in their place."""
        with self.engine.begin() as connection:
            delete_pairs(connection, list(article_ids))
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
        return self.pairs_by_key([(key.article_a, key.article_b) for key in self.pair_keys_among(ids)])

    def pair_keys_among(self, ids: Iterable[str], kinds: Iterable[str] | None = None) -> list[PairKey]:
        """The stored pairs (of `kinds`, or of any kind) whose two articles are both in `ids`, by score
        (highest first): what `pairs_among` finds, without reading the evidence."""
        wanted = set(ids)
        columns = (pairs_table.c.article_a, pairs_table.c.article_b, pairs_table.c.kind, pairs_table.c.score)
        found = []
        with self.engine.connect() as connection:
            for chunk in chunks(sorted(wanted)):
                query = select(*columns).where(pairs_table.c.article_a.in_(chunk))
                if kinds is not None:
                    query = query.where(pairs_table.c.kind.in_(list(kinds)))
                found += [PairKey(*row) for row in connection.execute(query) if row.article_b in wanted]
        return sorted(found, key=lambda key: (-key.score, key.article_a, key.article_b))

    def pairs_by_key(self, keys: Sequence[tuple[str, str]]) -> list[StoredPair]:
        """The stored pairs with these (article a, article b) keys, evidence included, in the order given
        (a key with no stored pair is left out)."""
        found: dict[tuple[str, str], StoredPair] = {}
        wanted = set(map(tuple, keys))
        with self.engine.connect() as connection:
            # by the first article (the key's leading column), not by (a, b) IN (VALUES ...): SQLite
            # answers that with a scan of every pair for each chunk
            for chunk in chunks(sorted({a for a, _ in wanted})):
                for row in connection.execute(select(pairs_table).where(pairs_table.c.article_a.in_(chunk))).mappings():
                    if (row["article_a"], row["article_b"]) not in wanted:
                        continue
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
        return [found[key] for key in map(tuple, keys) if key in found]

    def links_among(self, ids: Iterable[str], kinds: Iterable[str]) -> list[tuple[str, str, float]]:
        """(article a, article b, score) of the stored pairs of `kinds` whose two articles are both in `ids`,
        by score (highest first)."""
        return [(key.article_a, key.article_b, key.score) for key in self.pair_keys_among(ids, kinds)]

    def links_of(self, ids: Iterable[str], kinds: Iterable[str]) -> list[tuple[str, str, float]]:
        """(article a, article b, score) of the stored pairs of `kinds` with either article in `ids`."""
        kinds = list(kinds)
        found: dict[tuple[str, str], float] = {}
        with self.engine.connect() as connection:
            for chunk in chunks(sorted(set(ids))):
                for column in (pairs_table.c.article_a, pairs_table.c.article_b):
                    query = select(pairs_table.c.article_a, pairs_table.c.article_b, pairs_table.c.score).where(
                        column.in_(chunk), pairs_table.c.kind.in_(kinds)
                    )
                    found.update({(row.article_a, row.article_b): row.score for row in connection.execute(query)})
        return [(a, b, score) for (a, b), score in sorted(found.items())]

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

    def thread_labels(self) -> dict[str, str]:
        """The label of each current (not merged) thread."""
        with self.engine.connect() as connection:
            query = select(threads_table.c.id, threads_table.c.label).where(threads_table.c.merged_into.is_(None))
            return {row.id: row.label for row in connection.execute(query)}

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
            for chunk in chunks(sorted(changed_threads)):
                connection.execute(
                    update(threads_table).where(threads_table.c.id.in_(chunk)).values(updated_run=run_id)
                )
            for chunk in chunks(list(change.memberships)):
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
