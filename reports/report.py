"""The run report as plain data: what `report.json` holds and the other formats show.

Built from records (`ReportRecords`, loaded from the store by the run) and a `ReportSource` that reads
the long lists a chunk at a time: this package never queries the database itself.
"""

from __future__ import annotations

import json
import os
import tempfile
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from itertools import islice
from typing import IO, Any, Protocol, TypeVar, overload

from clustering.duplicates import DuplicatePair, PairKind
from clustering.findings import Intake, PairKey, StoredPair, StoredThread, ThreadUpdate
from clustering.groups import DuplicateGroup
from corpus.article import PreparedArticle, SkippedInput

REPORT_VERSION = 3
"""3: `groups`, and the pairs inside a duplicate group implied by it, not listed (2: every pair listed)."""


@dataclass(frozen=True)
class RunInfo:
    """Facts about one run that are not findings."""

    id: str
    started_at: datetime
    finished_at: datetime
    encoder: str
    encoder_requested: str
    encoder_note: str | None
    vectors_embedded: int
    inputs: list[str]
    vectors_reused: int = 0
    store: str | None = None
    name: str | None = None
    """The Prefect flow run's name, as the Prefect UI shows it."""
    extra: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    """Seconds each stage took, in stage order."""
    memory_mib: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """Resident MiB of the run's process as each stage started and at its peak (None where unmeasured)."""
    model: str | None = None
    """The multilingual model that read each article's lead for the threads (None: words alone)."""


@dataclass(frozen=True)
class Furniture:
    """A paragraph marked as site furniture: its text and why."""

    text: str
    reason: str


REPORT_CHUNK = 500
"""Articles or pairs read from the store at a time while the report is written."""

T = TypeVar("T")


class Chunked(Sequence[T]):
    """One of the report's long lists (its articles, its pairs), produced a chunk at a time on each pass
    and never held whole: a night of 100k articles is written in the memory of a few hundred."""

    def __init__(self, length: int, chunks: Callable[[], Iterable[Iterable[T]]]) -> None:
        self._length = length
        self._chunks = chunks

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[T]:
        for chunk in self._chunks():
            yield from chunk

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._length)
            return list(islice(self, start, stop, step)) if step > 0 else list(self)[index]
        position = index + self._length if index < 0 else index
        if not 0 <= position < self._length:
            raise IndexError(f"index {index} out of range for a list of {self._length}")
        return next(islice(self, position, None))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str) or len(other) != self._length:
            return False
        return all(mine == theirs for mine, theirs in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Chunked({self._length} items)"


class Spooled(Chunked[T]):
    """A `Chunked` list of JSON-able records whose first whole pass is kept in a temporary file (a line of JSON a
    record), which later passes read instead of asking the source again: the report's files and site go
    through its articles and pairs several times, and the store's facts, paragraph counts, furniture and
    evidence are read once. A pass that stops early keeps nothing; one that overlaps the first reads the source.
    The file has no name: it goes with the process, however that ends.
    """

    def __init__(self, length: int, chunks: Callable[[], Iterable[Iterable[T]]]) -> None:
        super().__init__(length, chunks)
        self._spool: IO[bytes] | None = None
        self._spooling = False

    def __iter__(self) -> Iterator[T]:
        if self._spool is not None:
            yield from map(json.loads, _spooled_lines(self._spool.fileno()))
            return
        if self._spooling:
            yield from super().__iter__()
            return
        self._spooling = True
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the later passes, closed with the list
        try:
            for chunk in self._chunks():
                records = list(chunk)
                spool.writelines((json.dumps(record, ensure_ascii=False) + "\n").encode() for record in records)
                yield from records
            spool.flush()
            self._spool = spool
            weakref.finalize(self, spool.close)
        finally:
            self._spooling = False
            if self._spool is not spool:
                spool.close()

    def json_lines(self) -> Iterator[str]:
        """Each record as `json.dumps(record, ensure_ascii=False)` gives it: from the spool as written once the first
        pass is kept, so a file of the records needs no second encoding of each."""
        if self._spool is not None:
            yield from (line.decode() for line in _spooled_lines(self._spool.fileno()))
            return
        yield from (json.dumps(record, ensure_ascii=False) for record in self)


def _spooled_lines(descriptor: int) -> Iterator[bytes]:
    """The lines of a spool, read at positions of this pass's own (passes may overlap)."""
    offset, rest = 0, b""
    while block := os.pread(descriptor, 1 << 20, offset):
        offset += len(block)
        *lines, rest = (rest + block).split(b"\n")
        yield from lines


def held_whole(report: dict[str, Any]) -> dict[str, Any]:
    """`report` with its `Chunked` lists read into lists: plain data (for `json.dumps`, say) that no longer
    needs the store, for a report small enough to hold."""
    return {key: list(value) if isinstance(value, Chunked) else value for key, value in report.items()}


class ReportSource(Protocol):
    """Where the report reads its long lists from, a chunk at a time (the run's store)."""

    def articles(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Article id -> title, source, dates, url, language, encoding, `paragraphs` (a count) and
        `furniture` (a list of `Furniture`)."""
        ...

    def pairs(self, keys: Sequence[tuple[str, str]]) -> list[StoredPair]:
        """The stored pairs with these (article a, article b) keys, evidence included, in that order."""
        ...


@dataclass
class ReportRecords:
    """What the report shows of the retention window: the small parts whole, the long ones by `source`."""

    window: list[str]
    """The window's article ids, in the store's order."""
    published: dict[str, datetime | None]
    """Article id -> when it was published (UTC), for the threads' timelines."""
    memberships: dict[str, str]
    threads: list[StoredThread]
    pairs: list[PairKey]
    """The window's pairs, by score (highest first), without their evidence."""
    source: ReportSource
    groups: list[DuplicateGroup] = field(default_factory=list)
    """The window's duplicate groups: their members' pairs are implied, not listed."""


def build_report(
    run: RunInfo,
    records: ReportRecords,
    intake: Intake,
    analysed: Sequence[PreparedArticle],
    found: Sequence[DuplicatePair],
    update: ThreadUpdate,
    skipped: Sequence[SkippedInput],
) -> dict[str, Any]:
    """The report of a run: the window's pairs and threads, tonight's news first (format in the README).

    Its `articles` and `duplicates` are `Chunked`: read from `records.source` each time they are gone
    through, so the report costs the memory of its ids and counts, not of its texts.
    """
    window = records.window
    in_window = set(window)
    memberships = records.memberships
    found_keys = {(p.article_a, p.article_b) for p in found}

    def published(article: str) -> datetime:
        return records.published.get(article) or datetime.max

    joined = set(update.memberships)
    threads, unthreaded = [], []
    for thread in records.threads:
        if not in_window & set(thread.members):
            continue
        members = sorted(thread.members, key=lambda a: (published(a), a))
        if len(members) == 1:
            unthreaded.append(members[0])
            continue
        dates = [date for a in members if (date := records.published.get(a))]
        threads.append(
            {
                "id": thread.id,
                "label": thread.label,
                "articles": members,
                "first_published": _iso(min(dates)) if dates else None,
                "last_published": _iso(max(dates)) if dates else None,
                "new_articles": [a for a in members if a in joined],
            }
        )
    threads.sort(key=lambda t: (-len(t["articles"]), t["id"]))
    sizes = {t["id"]: len(t["articles"]) for t in threads}
    labels = {t.id: t.label for t in records.threads}
    events = update.events
    tonight_section = {
        "new_articles": intake.new,
        "updated_articles": intake.updated,
        "unchanged_articles": len(intake.unchanged),
        "new_duplicates": [
            {"articles": [key.article_a, key.article_b], "kind": key.kind, "score": key.score}
            for key in records.pairs
            if (key.article_a, key.article_b) in found_keys
        ],
        "new_threads": [
            {"id": e.thread_id, "label": labels.get(e.thread_id, ""), "articles": e.related}
            for e in events
            if e.kind == "new" and sizes.get(e.thread_id, 0) > 1
        ],
        "grown_threads": [
            {"id": e.thread_id, "label": labels.get(e.thread_id, ""), "added": e.related}
            for e in events
            if e.kind == "grew" and sizes.get(e.thread_id, 0) > 1
        ],
        "merges": [{"into": e.thread_id, "merged": e.related} for e in events if e.kind == "merge"],
        "splits": [{"from": e.thread_id, "into": e.related} for e in events if e.kind == "split"],
    }
    arrived = set(intake.new) | set(intake.updated)
    groups = [
        {
            "id": group.id,
            "kind": group.kind,
            "articles": group.articles,
            "first": group.first,
            "representative": group.representative,
            "new_articles": [a for a in group.articles if a in arrived],
            # a group is as old as its second member: fewer than two stored before tonight, it formed tonight
            "new": sum(a not in arrived for a in group.articles) < 2,
        }
        for group in records.groups
        if in_window.issuperset(group.articles)
    ]
    group_of = {a: g["id"] for g in groups for a in g["articles"]}
    tonight_section["new_groups"] = [
        {"id": g["id"], "size": len(g["articles"]), "articles": g["articles"]} for g in groups if g["new"]
    ]
    tonight_section["grown_groups"] = [
        {"id": g["id"], "size": len(g["articles"]), "added": g["new_articles"]}
        for g in groups
        if g["new_articles"] and not g["new"]
    ]
    analysed_ids = {a.article.id for a in analysed}
    source = records.source

    def article_chunks() -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(window), REPORT_CHUNK):
            chunk = window[start : start + REPORT_CHUNK]
            facts = source.articles(chunk)
            yield [
                _article_entry(article, facts[article], memberships.get(article), article in analysed_ids)
                | {"group": group_of.get(article)}
                for article in chunk
                if article in facts
            ]

    keys = [(key.article_a, key.article_b) for key in records.pairs]

    def pair_chunks() -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(keys), REPORT_CHUNK):
            yield [
                p.evidence
                | {"new": (p.article_a, p.article_b) in found_keys, "found_run": p.found_run}
                | _groups_of(p.evidence["articles"], group_of)
                for p in source.pairs(keys[start : start + REPORT_CHUNK])
            ]

    counts = {
        "articles_read": len(intake.new) + len(intake.updated) + len(intake.unchanged),
        "articles_new": len(intake.new),
        "articles_updated": len(intake.updated),
        "articles_unchanged": len(intake.unchanged),
        "articles_analysed": len(analysed),
        "articles_in_window": len(window),
        "duplicate_groups": len(groups),
        "articles_in_groups": len(group_of),
        "passages": sum(len(a.passages) for a in analysed),
        "quotes": sum(len(a.quotes) for a in analysed),
    }
    return _assemble(
        run,
        counts,
        Spooled(len(window), article_chunks),
        Spooled(len(keys), pair_chunks),
        Counter(key.kind for key in records.pairs),
        threads,
        sorted(unthreaded),
        skipped,
        tonight_section,
        groups,
    )


def _groups_of(articles: Sequence[str], group_of: dict[str, str]) -> dict[str, Any]:
    """A pair's `groups` (the group each of its articles stands for, None where it is in none), when it has one."""
    found = [group_of.get(a) for a in articles]
    return {"groups": found} if any(found) else {}


def reported_pairs(report: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every pair of articles the report finds sharing reporting: the listed pairs, each pair inside a
    duplicate group, and a listed pair's articles' groups expanded (a pair found for a group's
    representative holds for each of its copies). Each pair once, its ids in sorted order."""
    members = {g["id"]: g["articles"] for g in report.get("groups", [])}
    seen: set[tuple[str, str]] = set()

    def once(a: str, b: str) -> Iterator[tuple[str, str]]:
        pair = (a, b) if a < b else (b, a)
        if a != b and pair not in seen:
            seen.add(pair)
            yield pair

    for articles in members.values():
        for i, a in enumerate(articles):
            for b in articles[i + 1 :]:
                yield from once(a, b)
    for pair in report["duplicates"]:
        a, b = pair["articles"]
        group_a, group_b = pair.get("groups") or (None, None)
        for x in members.get(group_a, [a]):
            for y in members.get(group_b, [b]):
                yield from once(x, y)


def _article_entry(article: str, facts: dict[str, Any], thread: str | None, analysed: bool) -> dict[str, Any]:
    return {
        "id": article,
        "title": facts["title"],
        "source": facts["source"],
        "published_at": _iso(facts["published_at"]),
        "published_local": _local(facts["published_at"], facts.get("published_offset")),
        "arrived_at": _iso(facts["arrived_at"]),
        "url": facts["url"],
        "language": facts["language"],
        "encoding": facts["encoding"],
        "thread": thread,
        "analysed_tonight": analysed,
        "paragraphs": facts.get("paragraphs", 0),
        "furniture": [{"text": f.text, "reason": f.reason} for f in facts.get("furniture", [])],
    }


def _assemble(
    run: RunInfo,
    counts: dict[str, int],
    articles: Chunked[dict[str, Any]],
    pairs: Chunked[dict[str, Any]],
    kinds: Counter[str],
    threads: list[dict[str, Any]],
    unthreaded: list[str],
    skipped: Sequence[SkippedInput],
    tonight: dict[str, Any],
    groups: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "version": REPORT_VERSION,
        "run": {
            "id": run.id,
            "name": run.name,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "duration_s": round((run.finished_at - run.started_at).total_seconds(), 3),
            "inputs": run.inputs,
            "store": run.store,
            "encoder": run.encoder,
            "model": run.model,
            "encoder_requested": run.encoder_requested,
            "encoder_note": run.encoder_note,
            **counts,
            "articles_skipped": len(skipped),
            "vectors_embedded": run.vectors_embedded,
            "vectors_reused": run.vectors_reused,
            "duplicate_pairs": {kind.value: kinds.get(kind.value, 0) for kind in PairKind},
            "threads": len(threads),
            "unthreaded": len(unthreaded),
            **run.extra,
            "stages": run.stages,
            "memory_mib": run.memory_mib,
        },
        "tonight": tonight,
        "articles": articles,
        "groups": groups,
        "duplicates": pairs,
        "threads": threads,
        "unthreaded": unthreaded,
        "skipped": [{"input": s.input, "reason": s.reason} for s in skipped],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _local(moment: datetime | None, offset_minutes: int | None) -> str | None:
    """A UTC moment as its source gave it, with its offset (None when the source gave no zone)."""
    if moment is None or offset_minutes is None:
        return None
    zone = timezone(timedelta(minutes=offset_minutes))
    return moment.replace(tzinfo=UTC).astimezone(zone).isoformat()
