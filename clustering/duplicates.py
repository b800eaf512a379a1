"""From candidate passage pairs to verified article pairs with their evidence."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from clustering.verify import CompactTerms, PassageTerms, Region, dense_region, ordered_region
from clustering.verify_kernel import DENSE, shared_runs, verify_candidates
from corpus.arrays import distinct
from corpus.article import Passage, PreparedArticle, Quote
from corpus.quotes import speaker_names
from corpus.text import content_terms
from embeddings.index import EXACT_LIMIT, CandidatePairs, candidate_pairs
from executor import Executor, pause_point


class PairKind(StrEnum):
    """How much two articles share."""

    EXACT = "exact"
    NEAR_DUPLICATE = "near_duplicate"
    PARTIAL_REUSE = "partial_reuse"
    REWORDED = "reworded"
    """The same reporting in other words: a model aligned the paragraphs (`clustering.semantic`)."""
    TRANSLATED = "translated"
    """The same reporting in another language: a model aligned the paragraphs."""


@dataclass(frozen=True)
class DuplicateSettings:
    """Thresholds of the duplicate stage.

    Two candidate passages match through a *dense region* (see `clustering.verify`): at
    least `min_density` of its weighted words occur on the other side, and they weigh at
    least `min_strength` average words on both sides. Two short passages can also match
    whole, as the same paragraph: at least `min_overlap` of the shorter one's content words
    (and `min_shared_terms` of them) are in the other, and they make at least
    `min_longer_overlap` of the longer one's (a heading inside a long paragraph is not it).

    Reworded text keeps the order of the words it did not change; words two articles merely
    have in common come in any order. So two windows also match through a run of words shared
    in the same order (from their heaviest common subsequence) that weighs `min_ordered_strength`
    and makes `min_density` of the text it spans, a span of at least `min_strength` (as much
    text as a dense region needs: a short phrase both quote, such as a name with its titles,
    does not make a pair).
    Text whose words were shuffled over a long passage has no dense region at window scale:
    two articles with at least `scattered_windows` candidate window pairs are also tested
    window by window against all the other side's candidate windows (and their neighbours)
    together, where a region must reach `scattered_strength`.

    Two articles share reporting when one dense region reaches `min_strength`, when the
    passages matched whole add up to `min_strength`, when one passage is copied nearly
    verbatim (`copied_overlap`) with at least `min_copied_strength` weighted words, or when
    they share a quote: several short shared paragraphs add up, one shared heading or
    caption never makes a pair.
    A short article (a post, a wire flash: lighter than `short_article` average words) is all one
    passage, and fourteen average words may be more than it holds. Where one of two articles is short,
    every strength above asks for `short_share` of its weight instead (never less than
    `min_short_strength`), made of at least `min_shared_terms` distinct shared words, and a run in the
    same order must make `short_density` of its span: a short text that repeats a third of another's
    words in a run carries its reporting, one that shares a name and a place does not.

    Two articles are near-duplicates when the text they share is at least
    `near_duplicate_containment` of one of them: of a long article, the text its matches cover (a
    passage matched whole only where its words are the other's); of a short one, the share of its
    distinct words the other has. So a short text sharing half its words is half covered, not whole.
    """

    min_strength: float = 14.0
    min_ordered_strength: float = 10.0
    scattered_strength: float = 28.0
    scattered_windows: int = 3
    min_copied_strength: float = 8.0
    copied_overlap: float = 0.9
    min_density: float = 0.5
    neighbour_windows: int = 2
    min_overlap: float = 0.6
    min_longer_overlap: float = 0.4
    min_shared_terms: int = 5
    near_duplicate_containment: float = 0.5
    quote_min_overlap: float = 0.6
    quote_min_shared_terms: int = 4
    short_article: float = 35.0
    short_share: float = 0.25
    min_short_strength: float = 4.0
    short_density: float = 0.67

    def __post_init__(self) -> None:
        for name in (
            "min_density",
            "min_overlap",
            "min_longer_overlap",
            "copied_overlap",
            "near_duplicate_containment",
            "quote_min_overlap",
            "short_share",
            "short_density",
        ):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"DuplicateSettings.{name} must be in (0, 1], got {value}")
        for name in (
            "min_strength",
            "min_ordered_strength",
            "scattered_strength",
            "short_article",
            "min_short_strength",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"DuplicateSettings.{name} must be positive, got {getattr(self, name)}")
        if self.scattered_windows < 1:
            raise ValueError(f"DuplicateSettings.scattered_windows must be at least 1, got {self.scattered_windows}")

    def needed(self, strength: float, lighter_article: float) -> float:
        """`strength` (one of the settings above), or less for a short article (see the class docstring), where the
        lighter of the two articles weighs `lighter_article` average words."""
        if lighter_article >= self.short_article:
            return strength
        return max(self.min_short_strength, min(strength, self.short_share * lighter_article))


@dataclass(frozen=True)
class PassageMatch:
    """Two passages that carry the same text: where, and how strongly.

    `start_*`/`end_*` delimit the matched text in each article (for a strong match, the
    dense shared region; for a weak one, the whole passage).
    """

    passage_a: Passage
    passage_b: Passage
    similarity: float
    """Cosine similarity of the passage vectors."""
    overlap: float
    """Share of the shorter passage's content words found in the other."""
    strength: float
    """Weighted shared words in the matched region, in average words."""
    dense: bool
    """True for a dense shared region inside longer passages, False for a short passage matched whole."""
    start_a: int
    end_a: int
    start_b: int
    end_b: int
    in_order: float = 0.0
    """For passages matched as reworded text: the weighted words they share in the same order (else 0.0)."""


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
    passage_vectors: np.ndarray | None,
    candidates: CandidatePairs,
    quote_vectors: np.ndarray | None = None,
    quote_threshold: float = 0.3,
    settings: DuplicateSettings | None = None,
    quote_candidates: CandidatePairs | None = None,
    executor: Executor | None = None,
) -> list[DuplicatePair]:
    """Verify candidate passage pairs and gather them into article pairs with evidence.

    `passage_vectors` rows follow the passages of `prepared` in order; `candidates` index
    those rows. Quotes are compared too (through `quote_vectors`, rows following the quotes
    of `prepared` in order), so two articles that share a statement but no paragraph are
    still reported. With `quote_candidates` (pairs of quote rows, e.g. from a stored index),
    the quotes are not searched again. With an `executor`, tokenising and verifying many
    candidates run on its workers; the pairs are the same either way.
    """
    settings = settings or DuplicateSettings()
    passages = [p for article in prepared for p in article.passages]
    if passage_vectors is not None and len(passages) != len(passage_vectors):
        raise ValueError(f"got {len(passage_vectors)} passage vectors for {len(passages)} passages")
    by_id = {article.article.id: article for article in prepared}
    terms = PassageTerms(prepared, settings.neighbour_windows, executor)

    matches: dict[tuple[str, str], list[PassageMatch]] = defaultdict(list)
    for match in _verified(prepared, passages, terms, candidates, settings, executor):
        matches[(match.passage_a.article_id, match.passage_b.article_id)].append(match)

    quotes_by_pair = _shared_quotes(prepared, quote_vectors, quote_threshold, settings, quote_candidates)
    # several short shared paragraphs add up; one shared heading or caption does not
    position = {article.article.id: index for index, article in enumerate(prepared)}
    weight_of = {article.article.id: weight for article, weight in zip(prepared, terms.article_weights, strict=True)}
    established = {
        key
        for key, found in matches.items()
        if _establishes(found, settings, min(weight_of[key[0]], weight_of[key[1]]))
    } | set(quotes_by_pair)
    for key, match in _scattered_matches(passages, terms, candidates, established, settings).items():
        matches[key].append(match)
        established.add(key)
    pairs = []
    for key in sorted(established):
        article_a, article_b = by_id[key[0]], by_id[key[1]]
        pair_matches = _merge_overlapping(matches.get(key, []))
        index_a, index_b = position[key[0]], position[key[1]]
        spans_a, spans_b = covered_spans(terms, index_a, index_b, pair_matches)
        shares = shared_word_shares(terms, index_a, index_b)
        # a short article (a post): the share of its words the other has; a long one: the text the matches cover
        containment_a = (
            shares[0] if weight_of[key[0]] < settings.short_article else article_coverage(article_a, spans_a)
        )
        containment_b = (
            shares[1] if weight_of[key[1]] < settings.short_article else article_coverage(article_b, spans_b)
        )
        pairs.append(
            DuplicatePair(
                article_a=key[0],
                article_b=key[1],
                kind=_kind(article_a, article_b, containment_a, containment_b, settings),
                containment_a=containment_a,
                containment_b=containment_b,
                matches=pair_matches,
                shared_quotes=quotes_by_pair.get(key, []),
                first=first_published(article_a, article_b),
            )
        )
    pairs.sort(key=lambda p: (-p.score, p.articles))
    return pairs


def covered_spans(
    terms: PassageTerms, article_a: int, article_b: int, matches: Sequence[PassageMatch]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The text each side of `matches` covers, as spans (`article_a`, `article_b`: the articles' indexes in `terms`):
    a dense region or a run of words in the same order is reused text whole, its replaced words too; a passage
    matched whole covers only its words the other side has (each run of them, with what lies between)."""
    spans_a: list[tuple[int, int]] = []
    spans_b: list[tuple[int, int]] = []
    for match in matches:
        if match.dense or match.in_order:
            spans_a.append((match.start_a, match.end_a))
            spans_b.append((match.start_b, match.end_b))
            continue
        ids_a, starts_a, ends_a = terms.tokens_within(article_a, match.start_a, match.end_a)
        ids_b, starts_b, ends_b = terms.tokens_within(article_b, match.start_b, match.end_b)
        spans_a += _spans(*shared_runs(ids_a, ids_b, starts_a, ends_a, match.start_a, match.end_a))
        spans_b += _spans(*shared_runs(ids_b, ids_a, starts_b, ends_b, match.start_b, match.end_b))
    return spans_a, spans_b


def shared_word_shares(terms: PassageTerms, article_a: int, article_b: int) -> tuple[float, float]:
    """For a pair with a short article: the share of each article's distinct words that the other has.

    A short text is a handful of words: a region half of whose words are shared is half of it, and a
    word it repeats is one word."""
    every_a, every_b = distinct(terms.article_terms(article_a)), distinct(terms.article_terms(article_b))
    shared = len(np.intersect1d(every_a, every_b, assume_unique=True))
    return (shared / len(every_a) if len(every_a) else 0.0, shared / len(every_b) if len(every_b) else 0.0)


def _spans(starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _merge_overlapping(matches: list[PassageMatch]) -> list[PassageMatch]:
    """One match per shared region: matches of overlapping windows that overlap on both sides are joined."""
    merged: list[PassageMatch] = []
    # taken in order of start_a, a merged match that ends (on side a) before the next one starts can
    # overlap no later one: only the rest are compared, in the order they were merged
    active: list[int] = []
    for match in sorted(matches, key=lambda m: (m.start_a, m.start_b)):
        active = [index for index in active if merged[index].end_a > match.start_a]
        for index in active:
            kept = merged[index]
            if kept.start_a < match.end_a and match.start_b < kept.end_b and kept.start_b < match.end_b:
                merged[index] = replace(
                    kept,
                    similarity=max(kept.similarity, match.similarity),
                    overlap=max(kept.overlap, match.overlap),
                    strength=max(kept.strength, match.strength),
                    dense=kept.dense or match.dense,
                    start_a=min(kept.start_a, match.start_a),
                    end_a=max(kept.end_a, match.end_a),
                    start_b=min(kept.start_b, match.start_b),
                    end_b=max(kept.end_b, match.end_b),
                )
                break
        else:
            active.append(len(merged))
            merged.append(match)
    return sorted(merged, key=lambda m: (m.start_a, m.start_b))


def _establishes(matches: list[PassageMatch], settings: DuplicateSettings, lighter_article: float) -> bool:
    """Whether the matches between two articles show shared reporting (see `DuplicateSettings`), the lighter of
    them weighing `lighter_article` average words."""
    strength = settings.needed(settings.min_strength, lighter_article)
    if any(m.dense and m.strength >= strength for m in matches):
        return True
    if any(m.in_order >= settings.needed(settings.min_ordered_strength, lighter_article) for m in matches):
        return True
    # short passages matched whole do not overlap one another, so their weights add up;
    # dense regions come from overlapping windows and would be counted several times
    if sum(m.strength for m in matches if not m.dense) >= strength:
        return True
    return any(
        not m.dense and m.overlap >= settings.copied_overlap and m.strength >= settings.min_copied_strength
        for m in matches
    )


def _scattered_matches(
    passages: list[Passage],
    terms: PassageTerms,
    candidates: CandidatePairs,
    established: set[tuple[str, str]],
    settings: DuplicateSettings,
) -> dict[tuple[str, str], PassageMatch]:
    """Matches of text shuffled over a long passage, for article pairs not yet established.

    Each candidate window of one article is tested against all the other article's
    candidate windows (and their neighbours) together; see `DuplicateSettings`.
    """
    windows = _unestablished_windows(passages, candidates, established, settings.scattered_windows)
    matches = {}
    for key, (lefts, rights, similarity) in windows.items():
        side_a = _best_region(lefts, rights, terms, settings.min_density)
        if side_a[0] < settings.scattered_strength:
            continue
        side_b = _best_region(rights, lefts, terms, settings.min_density)
        if side_b[0] < settings.scattered_strength:
            continue
        (strength_a, left, region_a), (strength_b, right, region_b) = side_a, side_b
        overlap, _ = term_overlap(terms.set_of(left), terms.set_of(right))
        matches[key] = PassageMatch(
            passages[left],
            passages[right],
            similarity,
            overlap,
            min(strength_a, strength_b),
            True,
            terms.span_of(left, region_a.first)[0],
            terms.span_of(left, region_a.last)[1],
            terms.span_of(right, region_b.first)[0],
            terms.span_of(right, region_b.last)[1],
        )
    return matches


def _unestablished_windows(
    passages: list[Passage], candidates: CandidatePairs, established: set[tuple[str, str]], least: int
) -> dict[tuple[str, str], tuple[set[int], set[int], float]]:
    """Per article pair not in `established`: its candidate windows on each side and their best cosine.

    Only pairs with at least `least` distinct windows on each side. The candidates are grouped
    with numpy: most of them are pairs of unrelated articles, too many to loop over here.
    """
    article_ids = [p.article_id for p in passages]
    names = sorted(set(article_ids))
    rank = {name: index for index, name in enumerate(names)}
    owner = np.fromiter(map(rank.__getitem__, article_ids), dtype=np.int64, count=len(article_ids))
    swap = owner[candidates.left] > owner[candidates.right]  # the article with the smaller id on the left
    left = np.where(swap, candidates.right, candidates.left).astype(np.int64)
    right = np.where(swap, candidates.left, candidates.right).astype(np.int64)
    pair = owner[left] * len(names) + owner[right]
    done = np.fromiter(
        (rank[a] * len(names) + rank[b] for a, b in established if a in rank and b in rank), dtype=np.int64
    )
    keep = ~np.isin(pair, done)
    left, right, pair, similarity = left[keep], right[keep], pair[keep], candidates.similarity[keep]
    size = max(len(passages), 1)
    enough = np.ones(len(pair), dtype=bool)
    for side in (left, right):
        # a pair's distinct windows on this side: distinct (pair, window) keys, counted per pair
        pairs_of_windows = distinct(pair * size + side) // size
        counted, counts = np.unique(pairs_of_windows, return_counts=True)
        enough &= np.isin(pair, counted[counts >= least])
    order = np.argsort(pair[enough], kind="stable")
    left, right, pair, similarity = (
        left[enough][order],
        right[enough][order],
        pair[enough][order],
        similarity[enough][order],
    )
    if not len(pair):
        return {}
    starts = np.flatnonzero(np.concatenate(([True], pair[1:] != pair[:-1])))
    ends = np.append(starts[1:], len(pair))
    windows = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        a, b = divmod(int(pair[start]), len(names))
        windows[(names[a], names[b])] = (
            set(left[start:end].tolist()),
            set(right[start:end].tolist()),
            float(similarity[start:end].max()),
        )
    return windows


def _best_region(own: set[int], others: set[int], terms: PassageTerms, density: float) -> tuple[float, int, Region]:
    """The densest region of any of the `own` windows against the terms of all `others` and their neighbours."""
    other_terms = terms.terms_around(others)
    best = max(
        ((dense_region(terms.terms_of(index), other_terms, terms.weights, density), index) for index in sorted(own)),
        key=lambda found: found[0].strength,
    )
    return best[0].strength, best[1], best[0]


def _in_order(
    terms_a: list[int],
    terms_b: list[int],
    set_a: set[int],
    set_b: set[int],
    weights: list[float],
    strength: float,
    span: float,
    density: float,
) -> tuple[float, int, int, int, int]:
    """The run of words two windows share in the same order, when it shows reworded text (else weight 0.0).

    Reworded text keeps the order of the words it did not replace: a run (see `ordered_region`)
    of at least `strength` average words (`min_ordered_strength`, less in a short article) that makes
    `density` of the text it spans, at least `span` of text. Returns (weight, first, last term on
    side a, first, last term on side b).
    """
    nothing = (0.0, -1, -1, -1, -1)
    # the shared weight bounds the ordered weight, which costs more (C-level loops: this runs for most candidates)
    weight_of = weights.__getitem__
    if sum(map(weight_of, filter(set_b.__contains__, terms_a))) < strength:
        return nothing
    if sum(map(weight_of, filter(set_a.__contains__, terms_b))) < strength:
        return nothing
    found = ordered_region(terms_a, terms_b, weights, density, span)
    return found if found[0] >= strength else nothing


RawMatch = tuple[int, int, float, float, float, bool, int, int, int, int, float]
"""A match as plain values (cheap to send from a worker): left, right, similarity, overlap, strength,
dense, the dense region's first and last term on each side (-1 when matched whole), in_order."""


def _match_terms(
    terms: PassageTerms | CompactTerms, left: int, right: int, similarity: float, settings: DuplicateSettings
) -> RawMatch | None:
    """A strong or weak match between two candidate passages, as plain values, or None.

    Needs term ids only, so a worker can run it; `left` belongs to the article with the smaller id.
    """
    lighter_article = min(terms.article_weight_of(left), terms.article_weight_of(right))
    strength = settings.needed(settings.min_strength, lighter_article)
    ordered = settings.needed(settings.min_ordered_strength, lighter_article)
    # in a short article a few average words are evidence only as several distinct shared words
    fewest = settings.min_shared_terms if lighter_article < settings.short_article else 0
    set_left, set_right = terms.set_of(left), terms.set_of(right)
    common = set_left & set_right
    shared = len(common)
    overlap = shared / min(len(set_left), len(set_right)) if shared else 0.0
    common_weight = sum(map(terms.weights.__getitem__, common))
    terms_left, terms_right = terms.terms_of(left), terms.terms_of(right)
    # a dense region or an ordered run weighs at most the whole lighter passage: most candidates
    # (short paragraphs) cannot reach either, and only the cheap test below can match them
    lighter = min(terms.total_weight(left), terms.total_weight(right))
    if lighter >= strength:
        region_a = dense_region(terms_left, terms.neighbourhood(right), terms.weights, settings.min_density)
        if region_a.strength >= strength:
            region_b = dense_region(terms_right, terms.neighbourhood(left), terms.weights, settings.min_density)
            if region_b.strength >= strength and _words_shared(terms_left, region_a, set_right) >= fewest:
                strength = min(region_a.strength, region_b.strength)
                return (left, right, similarity, overlap, strength, True, *_ends(region_a), *_ends(region_b), 0.0)
    # an ordered run counts each word once, so it weighs at most the distinct shared words (summed in
    # another order here: the margin covers the rounding)
    if lighter >= ordered and common_weight >= ordered - _ROUNDING:
        density = settings.short_density if fewest else settings.min_density
        in_order, *ends = _in_order(
            terms_left, terms_right, set_left, set_right, terms.weights, ordered, strength, density
        )
        if in_order and len(set(terms_left[ends[0] : ends[1] + 1]) & set_right) >= fewest:
            return (left, right, similarity, overlap, in_order, False, *ends, in_order)
    longer = max(len(set_left), len(set_right))
    same_paragraph = shared >= settings.min_longer_overlap * longer
    if overlap >= settings.min_overlap and shared >= settings.min_shared_terms and same_paragraph:
        return (left, right, similarity, overlap, common_weight, False, -1, -1, -1, -1, 0.0)
    return None


_ROUNDING = 1e-9


def _words_shared(terms: list[int], region: Region, other: set[int]) -> int:
    """Distinct words of `region` (of `terms`) that `other` has."""
    return len(set(terms[region.first : region.last + 1]) & other)


def _ends(region: Region) -> tuple[int, int]:
    return region.first, region.last


def _as_match(passages: list[Passage], terms: PassageTerms, found: RawMatch) -> PassageMatch:
    left, right, similarity, overlap, strength, dense, first_a, last_a, first_b, last_b, in_order = found
    a, b = passages[left], passages[right]
    if first_a < 0:  # matched whole
        return PassageMatch(a, b, similarity, overlap, strength, False, a.start, a.end, b.start, b.end, in_order)
    return PassageMatch(
        a,
        b,
        similarity,
        overlap,
        strength,
        dense,
        terms.span_of(left, first_a)[0],
        terms.span_of(left, last_a)[1],
        terms.span_of(right, first_b)[0],
        terms.span_of(right, last_b)[1],
        in_order,
    )


VERIFY_CHUNK = 5_000
"""Candidate pairs per chunk of verification sent to a worker."""


def verify_chunk(
    chunk: tuple[DuplicateSettings, np.ndarray, np.ndarray, np.ndarray], terms: CompactTerms
) -> list[RawMatch]:
    """Verify a (settings, left, right, similarity) chunk of oriented candidates; a worker's step. The rules of
    `_match_terms`, in compiled code (`clustering.verify_kernel`)."""
    pause_point("verify chunk")
    settings, lefts, rights, similarities = chunk
    arrays = terms.arrays()
    kinds, figures, ends = verify_candidates(
        *arrays, lefts.astype(np.int64), rights.astype(np.int64), terms.reach, kernel_settings(settings)
    )
    found: list[RawMatch] = []
    for k in np.flatnonzero(kinds).tolist():
        kind = int(kinds[k])
        overlap, strength, in_order = figures[k].tolist()
        first_a, last_a, first_b, last_b = ends[k].tolist()
        left, right, similarity = int(lefts[k]), int(rights[k]), float(similarities[k])
        found.append(
            (left, right, similarity, overlap, strength, kind == DENSE, first_a, last_a, first_b, last_b, in_order)
        )
    return found


def kernel_settings(settings: DuplicateSettings) -> np.ndarray:
    """The settings `verify_candidates` reads, in its order."""
    return np.array(
        [
            settings.min_strength,
            settings.min_ordered_strength,
            settings.min_density,
            settings.min_overlap,
            settings.min_longer_overlap,
            settings.min_shared_terms,
            settings.short_article,
            settings.short_share,
            settings.min_short_strength,
            settings.short_density,
        ],
        dtype=np.float64,
    )


def _verified(
    prepared: Sequence[PreparedArticle],
    passages: list[Passage],
    terms: PassageTerms,
    candidates: CandidatePairs,
    settings: DuplicateSettings,
    executor: Executor | None,
) -> Iterator[PassageMatch]:
    """The matches among `candidates`, verified here or, for many candidates, on the executor's workers."""
    rank = {article_id: i for i, article_id in enumerate(sorted(a.article.id for a in prepared))}
    owner_rank = np.repeat(
        np.array([rank[a.article.id] for a in prepared], dtype=np.int64), [len(a.passages) for a in prepared]
    )
    swap = owner_rank[candidates.left] > owner_rank[candidates.right]
    lefts = np.where(swap, candidates.right, candidates.left)
    rights = np.where(swap, candidates.left, candidates.right)
    compact = terms.for_workers()
    if executor is None or len(lefts) < 2 * VERIFY_CHUNK:
        for found in verify_chunk((settings, lefts, rights, candidates.similarity), compact):
            yield _as_match(passages, terms, found)
        return
    chunks = [
        (
            settings,
            lefts[i : i + VERIFY_CHUNK],
            rights[i : i + VERIFY_CHUNK],
            candidates.similarity[i : i + VERIFY_CHUNK],
        )
        for i in range(0, len(lefts), VERIFY_CHUNK)
    ]
    for found_in_chunk in executor.map(verify_chunk, chunks, shared=compact):
        for found in found_in_chunk:
            yield _as_match(passages, terms, found)


def find_candidates(
    prepared: Sequence[PreparedArticle],
    passage_vectors: np.ndarray,
    threshold: float,
    exact_limit: int = EXACT_LIMIT,
) -> CandidatePairs:
    """Candidate passage pairs across different articles (see `embeddings.index.candidate_pairs`)."""
    owners = np.array([i for i, article in enumerate(prepared) for _ in article.passages], dtype=np.int64)
    return candidate_pairs(passage_vectors, owners, threshold, exact_limit)


def article_coverage(article: PreparedArticle, spans: list[tuple[int, int]]) -> float:
    """Share of the article's reporting characters inside the union of `spans`."""
    total = article.content_chars
    if total == 0 or not spans:
        return 0.0
    spans = sorted(spans)
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
    # only a pair whose texts cover each other can be exact: compare the texts only then
    nearly_whole = min(containment_a, containment_b) >= 0.9
    if nearly_whole and a.passages and _reporting_text(a) == _reporting_text(b):
        return PairKind.EXACT
    if max(containment_a, containment_b) >= settings.near_duplicate_containment:
        return PairKind.NEAR_DUPLICATE
    return PairKind.PARTIAL_REUSE


def first_published(a: PreparedArticle, b: PreparedArticle) -> str | None:
    """Id of the article published first, or None when either date is unknown or both are equal."""
    date_a: datetime | None = a.article.published_at
    date_b: datetime | None = b.article.published_at
    if date_a is None or date_b is None or date_a == date_b:
        return None
    return a.article.id if date_a < date_b else b.article.id


def _same_speaker(a: str | None, b: str | None) -> bool:
    """Two speakers conflict only when both are named (`speaker_names`) and share no name: a title or
    role on one side («الوزير», "the spokesman") may be anyone, so the statement is shared."""
    if not a or not b:
        return True
    names_a, names_b = speaker_names(a), speaker_names(b)
    return not names_a or not names_b or bool(names_a & names_b)


def _shared_quotes(
    prepared: Sequence[PreparedArticle],
    quote_vectors: np.ndarray | None,
    threshold: float,
    settings: DuplicateSettings,
    candidates: CandidatePairs | None = None,
) -> dict[tuple[str, str], list[SharedQuote]]:
    quotes = [q for article in prepared for q in article.quotes]
    if not quotes or (quote_vectors is None and candidates is None):
        return {}
    if candidates is None:
        assert quote_vectors is not None
        if len(quotes) != len(quote_vectors):
            raise ValueError(f"got {len(quote_vectors)} quote vectors for {len(quotes)} quotes")
        owners = np.array([i for i, article in enumerate(prepared) for _ in article.quotes], dtype=np.int64)
        candidates = candidate_pairs(quote_vectors, owners, threshold)
    terms: dict[int, set[str]] = {}  # only the quotes in a candidate pair: most quotes are in none

    def terms_of(quote: int) -> set[str]:
        kept = terms.get(quote)
        if kept is None:
            kept = terms[quote] = set(content_terms(quotes[quote].folded))
        return kept

    found: dict[tuple[str, str], list[SharedQuote]] = defaultdict(list)
    ranked = sorted(
        zip(candidates.left, candidates.right, candidates.similarity, strict=True), key=lambda c: -float(c[2])
    )
    used: set[int] = set()
    for left, right, _ in ranked:
        if left in used or right in used:
            continue
        overlap, shared = term_overlap(terms_of(left), terms_of(right))
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


def pair_evidence(pair: DuplicatePair, texts: dict[str, str]) -> dict[str, Any]:
    """The pair as JSON-ready data: kind, score, containment, first, matched passages with their wording, quotes.

    `texts` maps article ids to their text, for the matched wording.
    """
    return {
        "articles": [pair.article_a, pair.article_b],
        "kind": pair.kind.value,
        "score": round(pair.score, 4),
        "containment": {pair.article_a: round(pair.containment_a, 4), pair.article_b: round(pair.containment_b, 4)},
        "first": pair.first,
        "matches": [_match(m, texts) for m in pair.matches],
        "shared_quotes": [_quote(q) for q in pair.shared_quotes],
    }


def _match(match: PassageMatch, texts: dict[str, str]) -> dict[str, Any]:
    """A matched region: its offsets and original wording in each article."""
    a, b = match.passage_a, match.passage_b
    return {
        "similarity": round(float(match.similarity), 4),
        "overlap": round(float(match.overlap), 4),
        "strength": round(float(match.strength), 2),
        "in_order": round(float(match.in_order), 2),
        "a": {
            "paragraph": a.paragraph,
            "start": match.start_a,
            "end": match.end_a,
            "text": texts[a.article_id][match.start_a : match.end_a],
        },
        "b": {
            "paragraph": b.paragraph,
            "start": match.start_b,
            "end": match.end_b,
            "text": texts[b.article_id][match.start_b : match.end_b],
        },
    }


def _quote(shared: SharedQuote) -> dict[str, Any]:
    return {
        "speaker": shared.speaker,
        "similarity": round(shared.similarity, 4),
        "a": {
            "text": shared.quote_a.text,
            "speaker": shared.quote_a.speaker,
            "start": shared.quote_a.start,
            "end": shared.quote_a.end,
        },
        "b": {
            "text": shared.quote_b.text,
            "speaker": shared.quote_b.speaker,
            "start": shared.quote_b.start,
            "end": shared.quote_b.end,
        },
    }
