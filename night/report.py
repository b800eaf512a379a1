"""What the report shows of the window, from the store, for `reports.report.build_report`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clustering.findings import StoredPair
from clustering.groups import DuplicateGroup
from reports.report import REPORT_CHUNK, Furniture, ReportRecords
from store import Store


class StoreReportSource:
    """The report's long lists (articles with their facts, pairs with their evidence), read from the store
    a chunk at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def articles(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        facts = self.store.article_facts(ids, label_terms=False)
        counts = self.store.paragraph_counts(ids)
        furniture = self.store.furniture(ids)
        texts = {a.id: a.text for a in self.store.articles(furniture)}
        for article, row in facts.items():
            row["paragraphs"] = counts.get(article, 0)
            row["furniture"] = [
                Furniture(texts[article][part.start : part.end], part.furniture or "")
                for part in furniture.get(article, [])
            ]
        return facts

    def pairs(self, keys: Sequence[tuple[str, str]]) -> list[StoredPair]:
        return self.store.pairs_by_key(keys)


def load_report_records(store: Store, window: Sequence[str], groups: Sequence[DuplicateGroup] = ()) -> ReportRecords:
    """The window's dates, memberships, threads and pair keys, and where to read the rest; `groups`:
    its duplicate groups."""
    published = {}
    for start in range(0, len(window), REPORT_CHUNK):
        facts = store.article_facts(window[start : start + REPORT_CHUNK], label_terms=False)
        published.update({article: row["published_at"] for article, row in facts.items()})
    return ReportRecords(
        window=list(window),
        published=published,
        memberships=store.memberships(),
        threads=list(store.threads().values()),
        pairs=store.pair_keys_among(window),
        source=StoreReportSource(store),
        groups=list(groups),
    )
