"""The work a run does while Prefect's temporary server boots: it fills caches and stops when told."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from corpus.text import TOKEN_TERMS
from night.run import warm_up
from night.settings import ExecutorSettings


def test_warm_up_learns_the_inputs_words_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    article = tmp_path / "one.txt"
    article.write_text("Title\n\nThe zqxwarmword appeared in the report.\n", encoding="utf-8")
    described = {"title": "Video", "text": None, "description": "The zqxnoteword was only in the description."}
    (tmp_path / "two.json").write_text(json.dumps(described), encoding="utf-8")
    assert "zqxwarmword" not in TOKEN_TERMS
    with caplog.at_level(logging.INFO):
        warm_up([article, tmp_path / "two.json", tmp_path / "missing.txt"], None, ExecutorSettings(), lambda: False)
    assert TOKEN_TERMS["zqxwarmword"] == ("zqxwarmword",) and "zqxnoteword" in TOKEN_TERMS
    # inputs that cannot be read, and notes on what was read, are the real read's to say, once
    assert not [r for r in caplog.records if r.name.startswith("corpus")], caplog.records


def test_warm_up_stops_as_soon_as_the_caller_is_ready(tmp_path: Path) -> None:
    article = tmp_path / "two.txt"
    article.write_text("Title\n\nThe zqxunreadword appeared in the report.\n", encoding="utf-8")
    warm_up([article], None, ExecutorSettings(), until=lambda: True)
    assert "zqxunreadword" not in TOKEN_TERMS
