"""The work a run does while Prefect's temporary server boots: the compiled kernels loaded and the inputs read."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from corpus.readers import read_articles
from night.run import warm_up
from night.settings import ExecutorSettings


def test_warm_up_reads_what_the_read_stage_would_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    article = tmp_path / "one.txt"
    article.write_text("Title\n\nThe zqxwarmword appeared in the report.\n", encoding="utf-8")
    described = {"title": "Video", "text": None, "description": "The zqxnoteword was only in the description."}
    (tmp_path / "two.json").write_text(json.dumps(described), encoding="utf-8")
    inputs = [article, tmp_path / "two.json", tmp_path / "missing.txt"]
    with caplog.at_level(logging.WARNING):
        read = warm_up(inputs, None, ExecutorSettings())
    assert read is not None and read.seconds > 0
    expected = read_articles(inputs)
    assert read.result.articles == expected.articles and read.result.skipped == expected.skipped
    assert [a.id for a in read.result.articles] == ["one", "two"]
    assert read.result.skipped[0].input.endswith("missing.txt")


def test_warm_up_leaves_feeds_and_pages_to_the_read_stage(tmp_path: Path) -> None:
    article = tmp_path / "one.txt"
    article.write_text("Title\n\nThe report.\n", encoding="utf-8")
    assert warm_up([article, "http://127.0.0.1:9/feed.xml"], None, ExecutorSettings()) is None
