"""Tokens that are no words (runs without spaces, encoded blobs): never compared, counted or shown."""

from __future__ import annotations

import base64
import json
import logging
import random
from dataclasses import replace
from pathlib import Path

import pytest

from clustering.duplicates import PairKind
from corpus.readers import read_articles
from corpus.text import MAX_WORD_CHARS
from tests.batch import analyse, threads_of
from tests.conftest import WIRE_PAIR


def _seeds(seeds_dir: Path) -> dict[str, object]:
    return {a.id: a for a in read_articles([seeds_dir]).articles}


def test_a_two_megabyte_json_line_without_a_space_is_skipped_naming_its_line(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "ok", "text": "خبر سليم في ملف سطور عن افتتاح معرض الكتاب"}, ensure_ascii=False),
        json.dumps({"id": "blob", "title": "عنوان", "text": "ب" * 2_000_000}, ensure_ascii=False),
    ]
    (tmp_path / "night.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    read = read_articles([tmp_path])
    assert [a.id for a in read.articles] == ["ok"]
    (skipped,) = read.skipped
    assert skipped.input.endswith("night.jsonl:2")
    assert skipped.reason.startswith("not text: 2,000,000 of its 2,000,000 characters are runs of over 64")


def test_an_article_mostly_of_junk_but_with_words_is_kept_with_a_warning_naming_its_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "وقال الوزير إن المعرض يفتتح غدا بمشاركة واسعة\n" + "x" * 5_000
    (tmp_path / "night.jsonl").write_text(json.dumps({"id": "mixed", "text": text}, ensure_ascii=False) + "\n")
    with caplog.at_level(logging.WARNING, logger="corpus.readers"):
        read = read_articles([tmp_path])
    assert [a.id for a in read.articles] == ["mixed"] and not read.skipped
    (warning,) = [r.getMessage() for r in caplog.records if "night.jsonl:1" in r.getMessage()]
    assert "5,000 of its" in warning and "left out" in warning


def test_a_long_spaceless_paragraph_appended_to_the_seed_pair_changes_neither_pair_nor_thread(
    seeds_dir: Path,
) -> None:
    seeds = _seeds(seeds_dir)
    junk = "\n" + "ق" * 300_000
    for article in WIRE_PAIR:
        seeds[article] = replace(seeds[article], text=seeds[article].text + junk)
    night = analyse(list(seeds.values()))
    (pair,) = [p for p in night.pairs if p.articles == WIRE_PAIR]
    assert pair.kind is PairKind.NEAR_DUPLICATE and pair.score >= 0.5
    threads = threads_of(night)
    assert threads[WIRE_PAIR[0]] == threads[WIRE_PAIR[1]]
    furniture = [p for p in night.prepared if p.article.id == WIRE_PAIR[0]][0].paragraphs[-1]
    assert furniture.boilerplate is not None and furniture.boilerplate.startswith("not text")


@pytest.mark.parametrize("wrapped", [True, False], ids=["wrapped at 76", "one line"])
def test_an_identical_base64_blob_in_two_unrelated_articles_makes_no_pair(seeds_dir: Path, wrapped: bool) -> None:
    blob = base64.b64encode(random.Random(1).randbytes(6_000)).decode()
    if wrapped:
        blob = "\n".join(blob[i : i + 76] for i in range(0, len(blob), 76))
    seeds = _seeds(seeds_dir)
    unrelated = ("001_e514437fa5ae4332", "003_d8e06b09afdf7b02")
    for article in unrelated:
        seeds[article] = replace(seeds[article], text=seeds[article].text + "\n" + blob)
    night = analyse(list(seeds.values()))
    assert [p.articles for p in night.pairs] == [WIRE_PAIR]


def test_no_thread_label_holds_a_token_over_64_characters(seeds_dir: Path) -> None:
    seeds = _seeds(seeds_dir)
    for article in WIRE_PAIR:
        # a title that is one run without spaces, and another such run in the text
        seeds[article] = replace(
            seeds[article], title="حفتر" * 40, text=seeds[article].text + "\n" + "الأسد" * 30 + " " + "ليبيا" * 20
        )
    night = analyse(list(seeds.values()))
    labels = [t["label"] for t in night.report["threads"]]
    assert labels
    assert all(len(word) <= MAX_WORD_CHARS for label in labels for word in label.split(" · "))
