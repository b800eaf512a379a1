"""Duplicate groups: articles that carry the same reporting text, found by hashing and analysed once.

1. An article's *reporting key* is the hash of the words of its body after folding
   (`corpus.text.fold`): case, punctuation, spacing, diacritics and Arabic letter variants do not
   count, and neither does the title (outlets retitle wire copy). A body of fewer than
   `MIN_WORDS` words has no key: too little text to call it the same reporting.
2. Once prepared, an article also has a *passage key*: the hash of the set of its passages as
   written. Two articles with one passage key match every passage both ways: the same reporting,
   whatever furniture, sign-off lines or paragraph order each outlet added.
3. The window's articles linked by a shared key of either kind, directly or through others, form a
   group: `identical` when all share one reporting key, else `near_identical`.
4. The group's `representative` is analysed for all of it: the earliest member already analysed
   with tonight's encoder, else the earliest member. The other members skip embedding, search,
   verification and clustering (an identical copy skips preparing too); they take the
   representative's thread, and a pair found for the representative stands for the whole group.
5. Members are listed earliest first: published first, else arrived first, then by id. `first` is
   the earliest member when its date is earlier than every other member's, else unknown (None).
6. The group's id derives from its representative's key, so it is the same from night to night
   while the representative stays in the window, and a group grows as copies arrive.
7. A member whose text is edited gets other keys and leaves the group; a group left with one
   article in the window is no group.

Pairs inside a group are implied by it: n copies are one finding, never n·(n-1)/2 pairs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from corpus.article import PreparedArticle
from corpus.tokens import folded_words

MIN_WORDS = 20
"""Shorter bodies get no reporting key, and shorter passage sets no passage key (rules 1 and 2)."""
IDENTICAL = "identical"
NEAR_IDENTICAL = "near_identical"


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def reporting_key(text: str) -> str | None:
    """The hash of `text`'s folded words (rule 1), or None when it has fewer than `MIN_WORDS`."""
    joined, count = folded_words(text)
    return _digest(joined) if count >= MIN_WORDS else None


def passage_key(article: PreparedArticle) -> str | None:
    """The hash of the set of `article`'s passages as written (rule 2), or None when they hold fewer than
    `MIN_WORDS` words."""
    # as written, not folded: folding every passage costs more than the rest of the key (and copies that
    # differ in spelling alone are one group by their reporting key)
    passages = sorted({p.text for p in article.passages})
    if sum(p.count(" ") + 1 for p in passages) < MIN_WORDS:
        return None
    return _digest("\n".join(passages))


def group_id(key: str) -> str:
    """The id of the group whose representative has `key` (rule 6)."""
    return "g-" + key[:12]


@dataclass(frozen=True)
class GroupMember:
    """An article that shares a reporting or passage key with another article of the window."""

    article: str
    reporting_key: str | None
    passage_key: str | None
    published_at: datetime | None
    arrived_at: datetime
    analysed: bool
    """Analysed with tonight's encoder already."""

    @property
    def order(self) -> tuple[datetime, str]:
        """Earliest first (rule 5)."""
        return (self.published_at or self.arrived_at, self.article)


@dataclass(frozen=True)
class DuplicateGroup:
    """Articles carrying the same reporting: reported once, analysed through one of them."""

    id: str
    kind: str
    articles: list[str]
    """Earliest first."""
    first: str | None
    """The member published (else taken in) before all the others; None when that is not known."""
    representative: str

    @property
    def members(self) -> list[str]:
        """The articles other than the representative: implied by it, not analysed themselves."""
        return [a for a in self.articles if a != self.representative]


def form_groups(members: Iterable[GroupMember]) -> list[DuplicateGroup]:
    """The groups among `members` (rules 3-6), largest first, then by id."""
    found = list(members)
    parent = list(range(len(found)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    holder: dict[tuple[str, str], int] = {}
    for i, member in enumerate(found):
        for key in (("reporting", member.reporting_key), ("passage", member.passage_key)):
            if key[1] is None:
                continue
            j = holder.setdefault(key, i)
            parent[root(i)] = root(j)
    components: dict[int, list[GroupMember]] = {}
    for i, member in enumerate(found):
        components.setdefault(root(i), []).append(member)
    groups = []
    for component in components.values():
        if len(component) < 2:
            continue
        component.sort(key=lambda m: m.order)
        chosen = next((m for m in component if m.analysed), component[0])
        first = component[0].article if component[0].order[0] < component[1].order[0] else None
        keys = {m.reporting_key for m in component}
        kind = IDENTICAL if len(keys) == 1 and None not in keys else NEAR_IDENTICAL
        key = chosen.reporting_key or chosen.passage_key
        assert key is not None  # a member shares a key
        groups.append(DuplicateGroup(group_id(key), kind, [m.article for m in component], first, chosen.article))
    groups.sort(key=lambda g: (-len(g.articles), g.id))
    return groups


def represented_by(groups: Iterable[DuplicateGroup]) -> dict[str, str]:
    """Member -> its group's representative, for every member that is not one."""
    return {member: group.representative for group in groups for member in group.members}
