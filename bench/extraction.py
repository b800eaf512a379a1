"""Text out of news pages: the hand-written extractor that read pages until stop 27 (now only fragments:
`corpus.html.html_to_text`) beside trafilatura, with its defaults and as `corpus.html.page_text` calls it,
on saved Arabic and English pages labelled by hand (`bench/data/pages/labels.json`: phrases of the
article that must be kept, phrases of site furniture that must be dropped).

    python -m bench.extraction

Prints, per page and in all, the share of article phrases kept and of furniture phrases let through;
writes JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trafilatura

from corpus.html import html_to_text, page_text

PAGES = Path(__file__).parent / "data" / "pages"
RESULTS = Path(__file__).parent / "results"


def hand_written(markup: str) -> str:
    return html_to_text(markup)[1]


def with_trafilatura(markup: str) -> str:
    document = trafilatura.bare_extraction(markup, with_metadata=True, include_comments=False)
    return getattr(document, "text", None) or ""


EXTRACTORS = {
    "block elements (before)": hand_written,
    "trafilatura defaults": with_trafilatura,
    "trafilatura, precision (ours)": lambda markup: page_text(markup).text,
}


def score(text: str, label: dict[str, list[str]]) -> dict[str, float]:
    """Share of the article's phrases kept and of the furniture's phrases let through."""
    flat = " ".join(text.split())
    kept = sum(phrase in flat for phrase in label["keep"]) / len(label["keep"])
    leaked = sum(phrase in flat for phrase in label["drop"]) / len(label["drop"])
    return {"kept": round(kept, 3), "furniture_leaked": round(leaked, 3)}


def main() -> int:
    labels = json.loads((PAGES / "labels.json").read_text(encoding="utf-8"))
    result: dict[str, Any] = {"pages": {}, "overall": {}}
    for name, label in sorted(labels.items()):
        markup = (PAGES / name).read_text(encoding="utf-8")
        result["pages"][name] = {system: score(extract(markup), label) for system, extract in EXTRACTORS.items()}
    for system in EXTRACTORS:
        scores = [page[system] for page in result["pages"].values()]
        result["overall"][system] = {
            key: round(sum(s[key] for s in scores) / len(scores), 3) for key in ("kept", "furniture_leaked")
        }
    width = max(map(len, EXTRACTORS))
    print(f"{'page':<18} " + " | ".join(f"{system:<{width}}" for system in EXTRACTORS))
    for name, page in [*result["pages"].items(), ("overall", result["overall"])]:
        cells = [f"kept {s['kept']:.2f}, furniture {s['furniture_leaked']:.2f}".ljust(width) for s in page.values()]
        print(f"{name:<18} " + " | ".join(cells))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "extraction.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
