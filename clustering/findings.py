"""Findings as the store keeps them and the report shows them: pairs with evidence, threads, their changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


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


class PairKey(NamedTuple):
    """A stored pair without its evidence: which two articles, its kind and score."""

    article_a: str
    article_b: str
    kind: str
    score: float


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
