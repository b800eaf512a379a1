"""What the report shows of the window, loaded from the store for `reports.report.build_report`."""

from __future__ import annotations

from collections.abc import Sequence

from reports.report import Furniture, ReportRecords
from store import Store


def load_report_records(store: Store, window: Sequence[str]) -> ReportRecords:
    """The window's articles, paragraph counts, furniture, pairs and threads, as records."""
    furniture = store.furniture(window)
    texts = {a.id: a.text for a in store.articles(furniture)}
    return ReportRecords(
        window=list(window),
        facts=store.article_facts(window, label_terms=False),
        paragraph_counts=store.paragraph_counts(window),
        furniture={
            article: [Furniture(texts[article][row.start : row.end], row.furniture or "") for row in rows]
            for article, rows in furniture.items()
        },
        memberships=store.memberships(),
        threads=list(store.threads().values()),
        pairs=store.pairs_among(window),
    )
