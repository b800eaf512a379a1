"""Stable thread ids from night to night.

Each night the window is clustered afresh; this module maps tonight's groups onto the
threads the store already knows, so a story that grows keeps its id:

1. every previous thread picks, as its successor, the group holding most of its members;
2. a group chosen by one thread takes its id; chosen by several, it takes the id of the one
   it holds most of (then the larger, then the smaller id) and the others are recorded as
   merged into it;
3. a group chosen by none continues an unclaimed previous thread whose centroid is similar
   enough (`continue_similarity`), else it is a new thread: split from the thread it shares
   most members with, or a new story;
4. an article that was in a thread and is in no group tonight stays where it was; a new
   article in no group starts a single-article thread, so every article has a thread id
   from its first night;
5. a copy in a duplicate group (`clustering.groups`) is not clustered: it is in its
   representative's thread (`follow_representatives`).

New ids derive from the founding article and are never reused: an id already given out
gets a numeric suffix.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Continuity:
    """Tonight's thread assignment against the previous one."""

    memberships: dict[str, str]
    """Article id -> thread id, for every article whose thread is new or changed tonight."""
    created: dict[str, str | None] = field(default_factory=dict)
    """New thread id -> the thread it split from, or None for a new story."""
    merged: dict[str, str] = field(default_factory=dict)
    """Retired thread id -> the thread that absorbed it."""
    grew: dict[str, list[str]] = field(default_factory=dict)
    """Existing thread id -> the articles that joined it tonight."""


def thread_id(founding_article: str, taken: Collection[str] = ()) -> str:
    """A new thread's id, derived from the article that started it; never one in `taken`."""
    base = "t-" + hashlib.sha1(founding_article.encode("utf-8")).hexdigest()[:10]
    candidate, suffix = base, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{base}-{suffix}"
    return candidate


def carry_threads(
    groups: Sequence[Sequence[str]],
    window: Sequence[str],
    previous: dict[str, str],
    taken: Collection[str],
    founding_order: Callable[[str], Any],
    continue_thread: Callable[[Sequence[str], set[str]], str | None] | None = None,
) -> Continuity:
    """Assign tonight's `groups` (over the `window` articles) to threads, keeping previous ids.

    `previous` maps article ids to their stored thread; `taken` holds every id ever given
    out; `founding_order` sorts articles oldest first; `continue_thread(group, candidates)`
    may return the id of an unclaimed previous thread that `group` continues.
    """
    taken = set(taken)
    members: dict[str, set[str]] = defaultdict(set)
    for article, thread in previous.items():
        members[thread].add(article)
    overlaps = [Counter(previous[a] for a in group if a in previous) for group in groups]

    successor: dict[str, int] = {}
    for index, overlap in enumerate(overlaps):
        for thread, count in overlap.items():
            best = successor.get(thread)
            if best is None or (count, len(groups[index])) > (overlaps[best][thread], len(groups[best])):
                successor[thread] = index

    in_window = set(window)
    claimed = set(successor)
    unclaimed = {t for t, found in members.items() if t not in claimed and found & in_window}
    result = Continuity(memberships={})
    assignment: dict[str, str] = {}
    for index, group in enumerate(groups):
        overlap = overlaps[index]
        heirs = sorted((t for t in overlap if successor[t] == index), key=lambda t: (-overlap[t], -len(members[t]), t))
        if heirs:
            chosen = heirs[0]
            for other in heirs[1:]:
                result.merged[other] = chosen
        else:
            chosen = continue_thread(group, unclaimed) if continue_thread and unclaimed else None
            if chosen is not None:
                unclaimed.discard(chosen)
            else:
                chosen = thread_id(min(group, key=founding_order), taken)
                taken.add(chosen)
                parent = min(overlap, key=lambda t: (-overlap[t], t)) if overlap else None
                result.created[chosen] = parent
        for article in group:
            assignment[article] = chosen

    for retired, survivor in list(result.merged.items()):
        for article in members[retired]:
            assignment.setdefault(article, survivor)
    for article in sorted(in_window, key=founding_order):
        if article not in assignment and article not in previous:
            single = thread_id(article, taken)
            taken.add(single)
            result.created[single] = None
            assignment[article] = single

    result.memberships = {a: t for a, t in assignment.items() if previous.get(a) != t}
    for article, thread in sorted(result.memberships.items()):
        if thread not in result.created:
            result.grew.setdefault(thread, []).append(article)
    return result


def follow_representatives(continuity: Continuity, previous: dict[str, str], represented: dict[str, str]) -> Continuity:
    """Rule 5: put each copy (`represented` maps it to its group's representative) in its
    representative's thread, tonight's or the stored one; `continuity` is updated and returned."""
    for copy, representative in sorted(represented.items()):
        thread = continuity.memberships.get(representative, previous.get(representative))
        if thread is None:
            continue
        if previous.get(copy) == thread:
            continuity.memberships.pop(copy, None)
            continue
        continuity.memberships[copy] = thread
        joined = continuity.grew.setdefault(thread, []) if thread not in continuity.created else None
        if joined is not None and copy not in joined:
            joined.append(copy)
    for joined in continuity.grew.values():
        joined.sort()
    return continuity
