"""The analysis stages in order, as plain functions: embed, index, duplicates, threads.

`flows/` runs each of these as a Prefect task; `analyse` runs them in one call for code that
wants the same result without Prefect (benchmarks, notebooks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from clustering.duplicates import DuplicatePair, DuplicateSettings, find_candidates, find_duplicates
from clustering.threads import Threading, ThreadSettings, find_threads, story_vectors
from corpus.article import PreparedArticle
from corpus.prepare import PrepareSettings
from embeddings.encoders import Encoder
from embeddings.index import CandidatePairs


@dataclass(frozen=True)
class PipelineSettings:
    """Settings of every analysis stage; the defaults are what `storythreads run` uses."""

    prepare: PrepareSettings = field(default_factory=PrepareSettings)
    duplicates: DuplicateSettings = field(default_factory=DuplicateSettings)
    threads: ThreadSettings = field(default_factory=ThreadSettings)


@dataclass
class Embeddings:
    """Vectors of one run, rows in the order of the prepared articles' passages/quotes/titles."""

    encoder_name: str
    passages: np.ndarray
    quotes: np.ndarray
    titles: np.ndarray

    @property
    def count(self) -> int:
        """How many texts were embedded."""
        return len(self.passages) + len(self.quotes) + len(self.titles)


@dataclass
class Analysis:
    """What a run found: duplicate pairs and story threads."""

    duplicates: list[DuplicatePair]
    threading: Threading


def embed(prepared: Sequence[PreparedArticle], encoder: Encoder) -> Embeddings:
    """Embed every passage, quote and title of `prepared` with `encoder`."""
    passages = [p.text for a in prepared for p in a.passages]
    quotes = [q.text for a in prepared for q in a.quotes]
    titles = [a.article.title for a in prepared]
    return Embeddings(
        encoder_name=encoder.name,
        passages=_encode(encoder, passages),
        quotes=_encode(encoder, quotes),
        titles=_encode(encoder, titles),
    )


def _encode(encoder: Encoder, texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return encoder.encode(texts)


def index_candidates(prepared: Sequence[PreparedArticle], embeddings: Embeddings, encoder: Encoder) -> CandidatePairs:
    """Candidate passage pairs across articles from the FAISS index."""
    return find_candidates(prepared, embeddings.passages, encoder.candidate_threshold)


def duplicates(
    prepared: Sequence[PreparedArticle],
    embeddings: Embeddings,
    candidates: CandidatePairs,
    encoder: Encoder,
    settings: DuplicateSettings,
) -> list[DuplicatePair]:
    """Verified duplicate article pairs with their evidence.

    Each article is left its `label_terms`, found while tokenising for verification, for `threads`.
    """
    return find_duplicates(
        prepared,
        embeddings.passages,
        candidates,
        quote_vectors=embeddings.quotes,
        quote_threshold=encoder.candidate_threshold,
        settings=settings,
        keep_label_terms=True,
    )


def threads(prepared: Sequence[PreparedArticle], pairs: Sequence[DuplicatePair], settings: ThreadSettings) -> Threading:
    """Story threads over the articles, by their words and duplicate pairs."""
    return find_threads(prepared, pairs, settings)


def analyse(
    prepared: Sequence[PreparedArticle], encoder: Encoder, settings: PipelineSettings | None = None
) -> Analysis:
    """Run embed, index, duplicates and threads in order."""
    settings = settings or PipelineSettings()
    embeddings = embed(prepared, encoder)
    candidates = index_candidates(prepared, embeddings, encoder)
    pairs = duplicates(prepared, embeddings, candidates, encoder, settings.duplicates)
    return Analysis(pairs, threads(prepared, pairs, settings.threads))


@dataclass
class Comparison:
    """The evidence between two articles: their pair (None when nothing is shared) and story similarity."""

    pair: DuplicatePair | None
    story_similarity: float
    """Cosine of the two articles' story vectors (the vectors the thread stage clusters; IDF from the two)."""


def compare(
    a: PreparedArticle, b: PreparedArticle, encoder: Encoder, settings: PipelineSettings | None = None
) -> Comparison:
    """Compare two prepared articles with the same stages and settings as a run."""
    if a.article.id == b.article.id:
        raise ValueError(f"compare needs two different articles, got the id {a.article.id!r} twice")
    settings = settings or PipelineSettings()
    prepared = [a, b]
    embeddings = embed(prepared, encoder)
    candidates = index_candidates(prepared, embeddings, encoder)
    pairs = duplicates(prepared, embeddings, candidates, encoder, settings.duplicates)
    vectors = story_vectors(prepared, settings.threads)
    return Comparison(pairs[0] if pairs else None, float(vectors[0] @ vectors[1]))
