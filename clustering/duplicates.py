"""From candidate passage pairs to verified article pairs with their evidence."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np

from corpus.article import Passage, PreparedArticle, Quote
from corpus.text import content_terms, fold, words
from embeddings.index import CandidatePairs, candidate_pairs


class PairKind(StrEnum):
    """How much two articles share."""

    EXACT = "exact"
    NEAR_DUPLICATE = "near_duplicate"
    PARTIAL_REUSE = "partial_reuse"


@dataclass(frozen=True)
class DuplicateSettings:
    """Thresholds of the duplicate stage.

    A candidate passage pair is a match when at least `min_overlap` of the content words of
    the shorter passage appear in the other and they share at least `min_shared_terms`.
    Two articles are near-duplicates when matched text covers at least
    `near_duplicate_containment` of one of them.
    """

    min_overlap: float = 0.6
    min_shared_terms: int = 5
    near_duplicate_containment: float = 0.5
    quote_min_overlap: float = 0.6
    quote_min_shared_terms: int = 4

    def __post_init__(self) -> None:
        for name in ("min_overlap", "near_duplicate_containment", "quote_min_overlap"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"DuplicateSettings.{name} must be in (0, 1], got {value}")


@dataclass(frozen=True)
class PassageMatch:
    """Two passages that carry the same text, with their similarities."""

    passage_a: Passage
    passage_b: Passage
    similarity: float
    """Cosine similarity of the passage vectors."""
    overlap: float
    """Share of the shorter passage's content words found in the other."""


@dataclass(frozen=True)
class SharedQuote:
    """The same statement quoted in two articles, in each article's wording."""

    quote_a: Quote
    quote_b: Quote
    similarity: float

    @property
    def speaker(self) -> str | None:
        """The speaker as either article names them."""
        return self.quote_a.speaker or self.quote_b.speaker


@dataclass
class DuplicatePair:
    """Two articles that carry the same reporting, and the evidence for it."""

    article_a: str
    article_b: str
    kind: PairKind
    containment_a: float
    """Share of article A's reporting text covered by text matched in B."""
    containment_b: float
    matches: list[PassageMatch] = field(default_factory=list)
    shared_quotes: list[SharedQuote] = field(default_factory=list)
    first: str | None = None
    """The article published first, when both dates are known and differ."""

    @property
    def score(self) -> float:
        """The larger containment: how much of one article is found in the other."""
        return max(self.containment_a, self.containment_b)

    @property
    def articles(self) -> tuple[str, str]:
        """The two article ids."""
        return (self.article_a, self.article_b)


def term_overlap(terms_a: set[str], terms_b: set[str]) -> tuple[float, int]:
    """(share of the smaller set found in the other, number shared)."""
    if not terms_a or not terms_b:
        return 0.0, 0
    shared = len(terms_a & terms_b)
    return shared / min(len(terms_a), len(terms_b)), shared


def find_duplicates(
    prepared: Sequence[PreparedArticle],
    passage_vectors: np.ndarray,
    candidates: CandidatePairs,
    quote_vectors: np.ndarray | None = None,
    quote_threshold: float = 0.3,
    settings: DuplicateSettings | None = None,
) -> list[DuplicatePair]:
    """Verify candidate passage pairs and gather them into article pairs with evidence.

    `passage_vectors` rows follow the passages of `prepared` in order; `candidates` index
    those rows. Quotes are compared too (through `quote_vectors`, rows following the quotes
    of `prepared` in order), so two articles that share a statement but no paragraph are
    still reported.
    """
    settings = settings or DuplicateSettings()
    passages = [p for article in prepared for p in article.passages]
    if len(passages) != len(passage_vectors):
        raise ValueError(f"got {len(passage_vectors)} passage vectors for {len(passages)} passages")
    by_id = {article.article.id: article for article in prepared}
    terms = [set(content_terms(p.folded)) for p in passages]

    matches: dict[tuple[str, str], list[PassageMatch]] = defaultdict(list)
    for left, right, similarity in zip(candidates.left, candidates.right, candidates.similarity, strict=True):
        overlap, shared = term_overlap(terms[left], terms[right])
        if overlap < settings.min_overlap or shared < settings.min_shared_terms:
            continue
        a, b = passages[left], passages[right]
        if a.article_id > b.article_id:
            a, b = b, a
        matches[(a.article_id, b.article_id)].append(PassageMatch(a, b, float(similarity), overlap))

    quotes_by_pair = _shared_quotes(prepared, quote_vectors, quote_threshold, settings)
    pairs = []
    for key in sorted(set(matches) | set(quotes_by_pair)):
        article_a, article_b = by_id[key[0]], by_id[key[1]]
        pair_matches = sorted(matches.get(key, []), key=lambda m: (m.passage_a.start, m.passage_b.start))
        containment_a = _coverage(article_a, [m.passage_a for m in pair_matches])
        containment_b = _coverage(article_b, [m.passage_b for m in pair_matches])
        pairs.append(
            DuplicatePair(
                article_a=key[0],
                article_b=key[1],
                kind=_kind(article_a, article_b, containment_a, containment_b, settings),
                containment_a=containment_a,
                containment_b=containment_b,
                matches=pair_matches,
                shared_quotes=quotes_by_pair.get(key, []),
                first=_first(article_a, article_b),
            )
        )
    pairs.sort(key=lambda p: (-p.score, p.articles))
    return pairs


def find_candidates(
    prepared: Sequence[PreparedArticle], passage_vectors: np.ndarray, threshold: float
) -> CandidatePairs:
    """Candidate passage pairs across different articles (see `embeddings.index.candidate_pairs`)."""
    owners = np.array([i for i, article in enumerate(prepared) for _ in article.passages], dtype=np.int64)
    return candidate_pairs(passage_vectors, owners, threshold)


def _coverage(article: PreparedArticle, passages: list[Passage]) -> float:
    """Share of the article's reporting characters inside the union of `passages`."""
    total = article.content_chars
    if total == 0 or not passages:
        return 0.0
    spans = sorted((p.start, p.end) for p in passages)
    covered, current_start, current_end = 0, spans[0][0], spans[0][1]
    for start, end in spans[1:]:
        if start > current_end:
            covered += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    covered += current_end - current_start
    return min(1.0, covered / total)


def _reporting_text(article: PreparedArticle) -> str:
    return "\n".join(" ".join(p.folded.split()) for p in article.passages)


def _kind(
    a: PreparedArticle, b: PreparedArticle, containment_a: float, containment_b: float, settings: DuplicateSettings
) -> PairKind:
    if a.passages and _reporting_text(a) == _reporting_text(b):
        return PairKind.EXACT
    if max(containment_a, containment_b) >= settings.near_duplicate_containment:
        return PairKind.NEAR_DUPLICATE
    return PairKind.PARTIAL_REUSE


def _first(a: PreparedArticle, b: PreparedArticle) -> str | None:
    date_a: datetime | None = a.article.published_at
    date_b: datetime | None = b.article.published_at
    if date_a is None or date_b is None or date_a == date_b:
        return None
    return a.article.id if date_a < date_b else b.article.id


def _same_speaker(a: str | None, b: str | None) -> bool:
    """Unknown speakers are compatible with anyone; known ones must share a name word."""
    if not a or not b:
        return True
    names_a = {w for w in words(fold(a)) if len(w) > 2}
    names_b = {w for w in words(fold(b)) if len(w) > 2}
    return bool(names_a & names_b)


def _shared_quotes(
    prepared: Sequence[PreparedArticle],
    quote_vectors: np.ndarray | None,
    threshold: float,
    settings: DuplicateSettings,
) -> dict[tuple[str, str], list[SharedQuote]]:
    quotes = [q for article in prepared for q in article.quotes]
    if quote_vectors is None or not quotes:
        return {}
    if len(quotes) != len(quote_vectors):
        raise ValueError(f"got {len(quote_vectors)} quote vectors for {len(quotes)} quotes")
    owners = np.array([i for i, article in enumerate(prepared) for _ in article.quotes], dtype=np.int64)
    candidates = candidate_pairs(quote_vectors, owners, threshold)
    terms = [set(content_terms(q.folded)) for q in quotes]
    found: dict[tuple[str, str], list[SharedQuote]] = defaultdict(list)
    ranked = sorted(
        zip(candidates.left, candidates.right, candidates.similarity, strict=True), key=lambda c: -float(c[2])
    )
    used: set[int] = set()
    for left, right, _ in ranked:
        if left in used or right in used:
            continue
        overlap, shared = term_overlap(terms[left], terms[right])
        if overlap < settings.quote_min_overlap or shared < settings.quote_min_shared_terms:
            continue
        a, b = quotes[left], quotes[right]
        if not _same_speaker(a.speaker, b.speaker):
            continue
        if a.article_id > b.article_id:
            a, b = b, a
        used.update((int(left), int(right)))
        found[(a.article_id, b.article_id)].append(SharedQuote(a, b, overlap))
    for shared_quotes in found.values():
        shared_quotes.sort(key=lambda s: s.quote_a.start)
    return dict(found)
