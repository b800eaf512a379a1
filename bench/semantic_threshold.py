"""The model similarity at which two passages carry the same reporting in other words, or in another language.

    python -m bench.semantic_threshold ../shared/data/reuse-dev [--encoder multilingual-e5-small]
    python -m bench.semantic_threshold ../shared/data/reuse-dev --translations ../shared/data/similarity-dev

Positives: each annotated passage whose reuse was reworded (manual synonym substitution or
paraphrasing), its text in the suspicious document against its text in the source. Negatives,
as hard as the corpus offers: the same suspicious passage against the source text just before
and just after the reused span, of the same length (the same document and topic, not reused).
Texts are cut to `CHARS` characters, about what the model reads of a paragraph.

The passages are split in two halves by a hash of the suspicious document's name: the threshold
is the lowest similarity at which precision on the first half reaches `--precision`, and the
second half reports the precision and recall it gives. Writes bench/results/semantic-threshold.json.

With `--translations`, the same for text in two languages, on similarity-dev's machine-translated
articles (an id with a language suffix, `123it`, translates the article `123`): positives, each
original against its translation; negatives, each original against its most similar text in
another language that is not its translation (the hardest the corpus offers). Halves by the
original's id. It also reports how often the translation is the original's nearest text in another
language (what choosing candidates by leads relies on).
"""

from __future__ import annotations

import argparse
import json
import re
import zlib
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from corpus.pan import ReusedPassage, read_pan_annotations
from corpus.readers import read_articles
from embeddings.choose import choose_encoder
from embeddings.encoders import Encoder

REWORDED = ("manual synonym substitution", "manual paraphrasing")
CHARS = 600


def labelled_pairs(folder: Path) -> list[tuple[int, str, str, str]]:
    """(half, kind, text a, text b) with kind 'reworded' or 'not reused'."""
    texts = {a.id: a.text for a in read_articles([folder], max_article_bytes=1 << 40).articles}
    pairs = []
    for passage in read_pan_annotations(folder):
        if passage.obfuscation not in REWORDED:
            continue
        half = zlib.crc32(passage.suspicious.encode()) % 2
        suspicious = texts[passage.suspicious][passage.suspicious_start : passage.suspicious_end][:CHARS]
        source = texts[passage.source]
        pairs.append((half, "reworded", suspicious, source[passage.source_start : passage.source_end][:CHARS]))
        for start, end in _beside(passage, len(source)):
            pairs.append((half, "not reused", suspicious, source[start:end]))
    return pairs


def _beside(passage: ReusedPassage, length: int) -> list[tuple[int, int]]:
    """Spans of the source just before and just after the reused one (as long as it, up to `CHARS`)."""
    size = min(CHARS, passage.source_end - passage.source_start)
    spans = []
    if passage.source_start >= size:
        spans.append((passage.source_start - size, passage.source_start))
    if passage.source_end + size <= length:
        spans.append((passage.source_end, passage.source_end + size))
    return spans


def translation_pairs(folder: Path, model: Encoder) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(similarity, positive, half) of similarity-dev's translations and hardest non-translations, and the
    share of originals whose translation is their nearest text in another language."""
    records = [json.loads(line) for line in (folder / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    ids = [r["id"] for r in records]
    family = np.array([re.match(r"\d+", i).group() if re.match(r"\d+", i) else i for i in ids])
    languages = np.array([r["lang"] for r in records])
    row = {i: k for k, i in enumerate(ids)}
    twins = [(row[f], k) for k, (i, f) in enumerate(zip(ids, family, strict=True)) if i != f and f in row]
    vectors = model.encode([r["text"][:CHARS] for r in records]).astype(np.float32)
    similarity, positive, half, nearest = [], [], [], 0
    for original, translation in twins:
        line = vectors @ vectors[original]
        other = (languages != languages[original]) & (family != family[original])
        elsewhere = np.where(languages != languages[original], line, -np.inf)
        nearest += int(np.argmax(elsewhere) == translation)
        side = zlib.crc32(ids[original].encode()) % 2
        similarity += [line[translation], line[other].max()]
        positive += [True, False]
        half += [side, side]
    return np.array(similarity), np.array(positive), np.array(half), nearest / max(len(twins), 1)


def threshold_at(similarity: np.ndarray, positive: np.ndarray, precision: float) -> float:
    """The lowest similarity above which the share of positives is at least `precision`."""
    order = np.argsort(-similarity)
    hits = np.cumsum(positive[order])
    shares = hits / np.arange(1, len(order) + 1)
    good = np.flatnonzero(shares >= precision)
    if not len(good):
        return float(similarity.max()) + 1e-6
    return float(similarity[order][good[-1]])


def scores(similarity: np.ndarray, positive: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision and recall of 'similarity >= threshold' as the test for reworded text."""
    chosen = similarity >= threshold
    true = int((chosen & positive).sum())
    return {
        "precision": true / max(int(chosen.sum()), 1),
        "recall": true / max(int(positive.sum()), 1),
        "positives": int(positive.sum()),
        "negatives": int((~positive).sum()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, help="the reuse-dev folder (PAN layout with annotations)")
    parser.add_argument("--encoder", default="multilingual-e5-small")
    parser.add_argument("--precision", type=float, default=0.95)
    parser.add_argument("--translations", type=Path, help="the similarity-dev folder: calibrate translations too")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    model = choose_encoder(args.encoder).model
    if model is None:
        parser.error(f"--encoder {args.encoder!r} gives no model")
    translations: dict[str, object] = {}
    if args.translations:
        similarity, positive, half, nearest = translation_pairs(args.translations, model)
        threshold = threshold_at(similarity[half == 0], positive[half == 0], args.precision)
        translations = {
            "threshold": round(threshold, 4),
            "chosen on half 0": scores(similarity[half == 0], positive[half == 0], threshold),
            "held-out half 1": scores(similarity[half == 1], positive[half == 1], threshold),
            "translation is the nearest text in another language": round(nearest, 3),
            "similarity percentiles (10, 50, 90)": {
                kind: np.percentile(similarity[positive == (kind == "translation")], [10, 50, 90]).round(3).tolist()
                for kind in ("translation", "nearest non-translation")
            },
        }
    pairs = labelled_pairs(args.corpus)
    left = model.encode([p[2] for p in pairs])
    right = model.encode([p[3] for p in pairs])
    similarity = (left * right).sum(axis=1)
    positive = np.array([p[1] == "reworded" for p in pairs])
    half = np.array([p[0] for p in pairs])
    threshold = threshold_at(similarity[half == 0], positive[half == 0], args.precision)
    result = {
        "date": date.today().isoformat(),
        "model": model.name,
        "precision_asked": args.precision,
        "threshold": round(threshold, 4),
        "chosen on half 0": scores(similarity[half == 0], positive[half == 0], threshold),
        "held-out half 1": scores(similarity[half == 1], positive[half == 1], threshold),
        "similarity percentiles (10, 50, 90)": {
            kind: np.percentile(similarity[positive == (kind == "reworded")], [10, 50, 90]).round(3).tolist()
            for kind in ("reworded", "not reused")
        },
        **({"translations": translations} if translations else {}),
    }
    print(json.dumps(result, indent=1))
    target = args.json or Path(__file__).parent / "results" / "semantic-threshold.json"
    target.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"JSON: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
