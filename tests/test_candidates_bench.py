"""The candidate-search bench scores each method by the reused article pairs it leaves verification to find."""

from __future__ import annotations

import json
from pathlib import Path

from bench.candidates import main


def test_every_candidate_search_finds_the_annotated_reuse_and_not_the_unrelated_source(
    pan_corpus: Path, tmp_path: Path
) -> None:
    target = tmp_path / "candidates.json"
    main([str(pan_corpus), "--json", str(target)])
    result = json.loads(target.read_text(encoding="utf-8"))
    assert result["reused_pairs"] == 1 and result["passages"] > 3
    assert len(result["methods"]) == 7
    for method, row in result["methods"].items():
        # one reused pair, found; the sports report shares no passage with the suspicious document
        assert (row["recall"], row["missed"], row["article_pairs"]) == (1.0, 0, 1), method
        assert row["passage_pairs"] >= 1 and row["seconds"] >= 0, method
