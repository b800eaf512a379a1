"""Shared reporting in other words: two articles whose passages a multilingual model aligns.

The lexical check decides whether two texts share words; this one decides, for article pairs it
left apart, whether they say the same things in other words (`reworded`) or in another language
(`translated`). A transformer on two cores reads tens of passages a second, so it reads the
passages of few pairs: those whose leads (already embedded for story vectors) are among each
other's nearest. Rules, in order:

1. Only a model with calibrated thresholds decides (`CALIBRATED`, by the model's versioned name):
   an uncalibrated model's similarities mean nothing yet, so it decides nothing.
2. Candidates: for each new article, its `candidates_per_article` nearest leads in other
   languages at `translated_lead_similarity` or more, and in its own language at
   `reworded_lead_similarity` or more (same-language copy is the lexical check's: only nearly
   identical leads are worth the model's time), leaving out pairs the lexical check found. The
   model reads their passages, most similar leads first, as long as the night's budget lasts
   (`SemanticSettings.budget`).
3. Passages align when each is the other's most similar passage and their similarity reaches
   the threshold of the pair's kind: `translated` when the two articles' languages are known and
   differ, `reworded` otherwise.
4. The pair carries the same reporting when at least `min_aligned` passages align (one, for an
   article of one passage) and they make at least `min_share` of the text the model read of one
   of the articles: one shared topic sentence is not a copy. The containment reported is the
   aligned share of each whole article.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clustering.duplicates import DuplicatePair, PairKind, PassageMatch, article_coverage, first_published
from corpus.article import Passage, PreparedArticle


@dataclass(frozen=True)
class SemanticThresholds:
    """Cosines of a model's passage vectors at which two passages carry the same reporting."""

    reworded: float
    translated: float


CALIBRATED: dict[str, SemanticThresholds] = {
    # bench/semantic_threshold.py --precision 0.9, each chosen on one half of its pairs at precision 0.90 passage by
    # passage (an article pair needs two aligned passages making half of what was read, or an only passage).
    # Reworded: reuse-dev's reworded passages against the source text beside them (held-out half: precision
    # 0.96, recall 1.00). Translated: similarity-dev's machine-translated articles against their originals, and
    # each original against its most similar text in another language that is not its translation (held-out
    # half: precision 0.90, recall 0.68).
    "st-multilingual-e5-small-t128": SemanticThresholds(reworded=0.915, translated=0.875),
}


@dataclass(frozen=True)
class SemanticSettings:
    """Which article pairs the model reads, and how much must align (see the module's rules)."""

    translated_lead_similarity: float = 0.80
    """Leads in two languages at least this similar (the model's cosine) may be read passage by passage:
    a translation's lead scores lower across languages than an unrelated one within a language. On
    similarity-dev's 90 machine-translated articles, the original is the nearest lead in another
    language for 87 (`bench/semantic_threshold.py`), at cosine 0.82 or more."""
    reworded_lead_similarity: float = 0.95
    candidates_per_article: int = 1
    """Nearest articles per new article, in other languages and in its own."""
    max_passages: int = 8
    """Passages of an article the model reads (the first ones, see `reporting_passages`)."""
    passage_budget: float = 1.0
    """Passages the model reads per new article at most, over the night (those it read before are free):
    a transformer on two cores reads 20 to 40 a second."""
    min_passage_budget: int = 200
    """Passages a night may read however few its new articles: a small night can read a few pairs whole."""

    def budget(self, new_articles: int) -> int:
        """Passages the model may read tonight, for this many new articles."""
        return max(self.min_passage_budget, round(self.passage_budget * new_articles))

    min_aligned: int = 2
    min_share: float = 0.5

    def __post_init__(self) -> None:
        for name in ("translated_lead_similarity", "reworded_lead_similarity", "min_share"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"SemanticSettings.{name} must be in (0, 1], got {getattr(self, name)}")
        if self.passage_budget < 0 or self.min_passage_budget < 0:
            raise ValueError(
                "SemanticSettings.passage_budget and min_passage_budget must be at least 0, got "
                f"{self.passage_budget} and {self.min_passage_budget}"
            )
        if self.candidates_per_article < 1 or self.min_aligned < 1 or self.max_passages < 1:
            raise ValueError(
                "SemanticSettings.candidates_per_article, min_aligned and max_passages must be at least 1, got "
                f"{self.candidates_per_article}, {self.min_aligned} and {self.max_passages}"
            )


def reporting_passages(article: PreparedArticle, limit: int) -> list[Passage]:
    """The article's first `limit` passages that do not overlap, in order: the spans of text the model reads.

    Passages are the lexical check's (site furniture left out): a paragraph, or a window of a long one
    (about 45 words, within what the model reads at once). Windows overlap; every other one is kept.
    """
    found: list[Passage] = []
    end = -1
    for passage in article.passages:
        if passage.start >= end:
            found.append(passage)
            end = passage.end
            if len(found) == limit:
                break
    return found


def aligned(vectors_a: np.ndarray, vectors_b: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """(row a, row b, cosine) of rows that are each other's most similar and at least `threshold` similar."""
    if not len(vectors_a) or not len(vectors_b):
        return []
    similarity = vectors_a.astype(np.float32) @ vectors_b.astype(np.float32).T
    best_b = similarity.argmax(axis=1)
    best_a = similarity.argmax(axis=0)
    return [
        (row, int(column), float(similarity[row, column]))
        for row, column in enumerate(best_b.tolist())
        if best_a[column] == row and similarity[row, column] >= threshold
    ]


def semantic_pair(
    a: PreparedArticle,
    b: PreparedArticle,
    passages: tuple[list[Passage], list[Passage]],
    vectors: tuple[np.ndarray, np.ndarray],
    languages: tuple[str | None, str | None],
    thresholds: SemanticThresholds,
    settings: SemanticSettings,
) -> DuplicatePair | None:
    """The `reworded` or `translated` pair of `a` and `b`, with the aligned passages as evidence, or None.

    `passages` and `vectors` are each article's `reporting_passages` and the model's vectors of them.
    """
    translated = bool(languages[0] and languages[1] and languages[0] != languages[1])
    threshold = thresholds.translated if translated else thresholds.reworded
    found = aligned(vectors[0], vectors[1], threshold)
    needed = 1 if min(len(passages[0]), len(passages[1])) == 1 else settings.min_aligned
    if not found or len(found) < needed:
        return None
    matches = [
        PassageMatch(
            passages[0][i],
            passages[1][j],
            similarity,
            0.0,
            0.0,
            False,
            passages[0][i].start,
            passages[0][i].end,
            passages[1][j].start,
            passages[1][j].end,
        )  # fmt: skip
        for i, j, similarity in found
    ]
    share_a = sum(m.end_a - m.start_a for m in matches) / max(sum(p.end - p.start for p in passages[0]), 1)
    share_b = sum(m.end_b - m.start_b for m in matches) / max(sum(p.end - p.start for p in passages[1]), 1)
    if max(share_a, share_b) < settings.min_share:
        return None
    containment_a = article_coverage(a, [(m.start_a, m.end_a) for m in matches])
    containment_b = article_coverage(b, [(m.start_b, m.end_b) for m in matches])
    if a.article.id > b.article.id:
        a, b = b, a
        containment_a, containment_b = containment_b, containment_a
        matches = [_swapped(m) for m in matches]
    return DuplicatePair(
        a.article.id,
        b.article.id,
        PairKind.TRANSLATED if translated else PairKind.REWORDED,
        containment_a,
        containment_b,
        sorted(matches, key=lambda m: m.start_a),
        [],
        first_published(a, b),
    )


def _swapped(match: PassageMatch) -> PassageMatch:
    return PassageMatch(
        match.passage_b, match.passage_a, match.similarity, match.overlap, match.strength, match.dense,
        match.start_b, match.end_b, match.start_a, match.end_a, match.in_order,
    )  # fmt: skip


CANDIDATE_CHUNK = 512
"""New articles compared with the whole window at once: a 512 × window block of similarities."""


def candidate_articles(
    fresh_rows: Sequence[int],
    leads: np.ndarray,
    languages: Sequence[str | None],
    excluded: set[tuple[int, int]],
    settings: SemanticSettings,
) -> list[tuple[int, int, float]]:
    """(row, row, lead similarity), lower row first, most similar first: the pairs rule 2 sends to the model.

    `leads` are the unit lead vectors of every article in reach, `languages` theirs (None: not
    known, read as one more language); `excluded` pairs (found already) are left out.
    """
    if len(leads) < 2 or not len(fresh_rows):
        return []
    codes = {language: code for code, language in enumerate(sorted(set(languages), key=str))}
    language_codes = np.array([codes[language] for language in languages])
    vectors = leads.astype(np.float32)
    found: dict[tuple[int, int], float] = {}
    rows = list(fresh_rows)
    for start in range(0, len(rows), CANDIDATE_CHUNK):
        chunk = rows[start : start + CANDIDATE_CHUNK]
        similarity = vectors[chunk] @ vectors.T
        similarity[np.arange(len(chunk)), chunk] = -np.inf
        for line, row in zip(similarity, chunk, strict=True):
            own = language_codes == language_codes[row]
            for floor, side in (
                (settings.reworded_lead_similarity, own),
                (settings.translated_lead_similarity, ~own),
            ):
                columns = np.flatnonzero(side & (line >= floor))
                if len(columns) > settings.candidates_per_article:
                    nearest = np.argpartition(-line[columns], settings.candidates_per_article - 1)
                    columns = columns[nearest[: settings.candidates_per_article]]
                for other in columns.tolist():
                    pair = (min(row, other), max(row, other))
                    if pair not in excluded:
                        found[pair] = float(line[other])
    return [(a, b, value) for (a, b), value in sorted(found.items(), key=lambda item: (-item[1], item[0]))]
