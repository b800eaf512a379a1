"""Duplicate groups: copies of one article are found by hashing, analysed once and reported as one finding."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from clustering.groups import MIN_WORDS, GroupMember, form_groups, group_id, reporting_key
from corpus.article import Article
from night.run import run_stages
from night.stages import Night
from reports.render import tonight_lines
from reports.report import held_whole, reported_pairs
from store import Store
from tests.conftest import SEEDS, WIRE_PAIR
from tests.stream import article, vocabulary

WIRE_TEXT = (SEEDS / f"{WIRE_PAIR[0]}.txt").read_text(encoding="utf-8")
REWRITE_TEXT = (SEEDS / f"{WIRE_PAIR[1]}.txt").read_text(encoding="utf-8")
NIGHT = datetime(2026, 11, 20, 2)


def test_the_reporting_key_ignores_case_punctuation_spacing_diacritics_and_letter_variants() -> None:
    body = "قال المسؤول إن الحكومة ستعلن الخطة الجديدة يوم الأحد، وأضاف أن الوزارة أعدت تقريراً مفصلاً " * 2
    variant = body.replace("إن", "ان").replace("،", " ,").replace("تقريراً", "تقريرا").replace(" ", "  \n")
    assert reporting_key(body) is not None
    assert reporting_key(variant) == reporting_key(body)
    assert reporting_key("Ministers MET today; " * 10) == reporting_key("ministers met today " * 10)
    assert reporting_key(body + " وزيادة") != reporting_key(body)
    assert reporting_key(" ".join(["word"] * (MIN_WORDS - 1))) is None  # too short to call copying


def test_the_representative_is_the_earliest_analysed_member_and_first_needs_an_earlier_date() -> None:
    day = datetime(2026, 11, 1)
    members = [
        GroupMember("late", "k", None, day + timedelta(hours=3), day, analysed=True),
        GroupMember("early", "k", None, day + timedelta(hours=1), day, analysed=False),
        GroupMember("middle", "k", None, day + timedelta(hours=2), day, analysed=True),
        GroupMember("alone", "other", None, None, day, analysed=False),
    ]
    (group,) = form_groups(members)
    assert group.articles == ["early", "middle", "late"] and group.first == "early"
    assert group.representative == "middle" and group.members == ["early", "late"]
    assert group.kind == "identical" and group.id == group_id("k")
    # copies taken in the same night with no dates: listed by id, but nobody is known to be first
    (undated,) = form_groups([GroupMember(name, "k", None, None, day, analysed=False) for name in ("b", "a")])
    assert undated.articles == ["a", "b"] and undated.first is None and undated.representative == "a"


def test_articles_linked_by_either_key_through_others_are_one_near_identical_group() -> None:
    day = datetime(2026, 11, 1)
    members = [
        GroupMember("a", "text-1", "passages-1", day, day, analysed=False),
        GroupMember("b", "text-1", None, day + timedelta(hours=1), day, analysed=False),  # a's text
        GroupMember("c", "text-2", "passages-1", day + timedelta(hours=2), day, analysed=False),  # a's passages
        GroupMember("d", "text-3", "passages-2", day, day, analysed=False),
    ]
    (group,) = form_groups(members)
    assert group.articles == ["a", "b", "c"] and group.kind == "near_identical" and group.first == "a"
    assert group.representative == "a" and group.id == group_id("text-1")


def _write_night(folder: Path, articles: list[Article]) -> Path:
    """`articles` as one JSON Lines file in `folder`, as a user hands them over."""
    folder.mkdir(parents=True)
    with (folder / "articles.jsonl").open("w", encoding="utf-8") as out:
        for a in articles:
            record = {"id": a.id, "title": a.title, "text": a.text, "source": a.source}
            record["published_at"] = a.published_at.isoformat() + "Z" if a.published_at else None
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder


def _run(store: Store, folder: Path, run_id: str, now: datetime, outputs: list[str] | None = None) -> dict:
    night = Night.asked(
        store=store, paths=[str(folder)], run_id=run_id, started=now, encoder_spec="lexical", outputs=outputs or []
    )
    with store.run_lock():
        run_stages(night)
    assert night.report is not None
    return held_whole(night.report)


def _copies(first: int, count: int, published: datetime) -> list[Article]:
    return [
        Article(
            id=f"copy-{i:03d}",
            title=f"عنوان الموقع رقم {i}",  # outlets retitle; the reporting text is the same
            text=WIRE_TEXT,
            published_at=published + timedelta(minutes=i),
            source=f"outlet-{i}",
        )
        for i in range(first, first + count)
    ]


def test_two_hundred_copies_are_one_group_that_grows_and_loses_an_edited_copy(store: Store, tmp_path: Path) -> None:
    wire = Article("wire", "الخبر الأصلي", WIRE_TEXT, published_at=NIGHT - timedelta(hours=5), source="wire")
    rewrite = Article(WIRE_PAIR[1], "إعادة صياغة", REWRITE_TEXT, published_at=NIGHT - timedelta(hours=1))
    others = [article(f"other-{i:02d}", vocabulary(10 + i), NIGHT - timedelta(hours=2), i) for i in range(19)]
    first_night = [*_copies(0, 199, NIGHT - timedelta(hours=4)), wire, rewrite, *others]
    report = _run(store, _write_night(tmp_path / "night-1", first_night), "run-1", NIGHT, [str(tmp_path / "out")])

    (group,) = report["groups"]
    assert len(group["articles"]) == 200 and group["kind"] == "identical"
    assert group["articles"][0] == group["first"] == group["representative"] == "wire"
    # a fresh store's first night: the group is new, not grown
    assert report["tonight"]["new_groups"] == [{"id": group["id"], "size": 200, "articles": group["articles"]}]
    assert report["tonight"]["grown_groups"] == []
    assert f"new duplicate group {group['id']} (200 articles): wire, copy-000" in "\n".join(tonight_lines(report))
    assert group["articles"][1:] == [f"copy-{i:03d}" for i in range(199)]  # earliest first
    assert report["run"]["articles_analysed"] == 21  # the group once, and the 20 others
    # no pair between two copies is listed: the group implies them
    assert all(not set(p["articles"]) <= set(group["articles"]) for p in report["duplicates"])
    assert len(report["duplicates"]) < 5 and store.counts()["pairs"] < 5
    # the rewrite's reuse of the wire story is one pair, reported against the group
    (reuse,) = [p for p in report["duplicates"] if WIRE_PAIR[1] in p["articles"]]
    assert reuse["groups"][reuse["articles"].index("wire")] == group["id"]
    implied = set(reported_pairs(report))
    assert len(implied) >= 200 * 199 // 2 + 200 and tuple(sorted(("copy-007", WIRE_PAIR[1]))) in implied
    threads = {a["id"]: a["thread"] for a in report["articles"]}
    assert {threads[a] for a in group["articles"]} == {threads["wire"]}
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    (row,) = [line for line in markdown.splitlines() if line.startswith("| ") and group["id"] in line]
    assert "## Duplicate groups" in markdown and "| identical | 200 |" in row and "wire" in row
    index = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "199 identical copies" in index and "new tonight" in index

    report = _run(
        store, _write_night(tmp_path / "night-2", _copies(199, 10, NIGHT)), "run-2", NIGHT + timedelta(days=1)
    )
    (grown,) = report["groups"]
    assert grown["id"] == group["id"] and len(grown["articles"]) == 210 and grown["representative"] == "wire"
    assert report["tonight"]["grown_groups"] == [
        {"id": group["id"], "size": 210, "added": [f"copy-{i:03d}" for i in range(199, 209)]}
    ]
    assert report["tonight"]["new_groups"] == []
    lines = "\n".join(tonight_lines(report))
    assert f"duplicate group {group['id']} (210 articles) grew: +copy-199" in lines
    assert "new duplicate group" not in lines
    assert report["run"]["articles_analysed"] == 0  # copies of what was analysed last night cost no analysis
    threads = {a["id"]: a["thread"] for a in report["articles"]}
    assert threads["copy-208"] == threads["wire"]

    paragraphs = WIRE_TEXT.split("\n\n")
    edited = replace(_copies(5, 1, NIGHT - timedelta(hours=4))[0], text="\n\n".join(paragraphs[: len(paragraphs) // 2]))
    report = _run(store, _write_night(tmp_path / "night-3", [edited]), "run-3", NIGHT + timedelta(days=2))
    (left,) = report["groups"]
    assert len(left["articles"]) == 209 and "copy-005" not in left["articles"]
    (now_is,) = [p for p in report["duplicates"] if set(p["articles"]) == {"wire", "copy-005"}]
    assert now_is["kind"] != "exact" and now_is["found_run"] == "run-3"
    assert now_is["containment"]["copy-005"] > 0.9 > now_is["containment"]["wire"]
    assert store.check() == []


def test_copies_with_their_own_sign_off_or_paragraph_order_join_the_group_as_near_identical(
    store: Store, tmp_path: Path
) -> None:
    wire = Article("wire", "الخبر", WIRE_TEXT, published_at=NIGHT - timedelta(hours=5), source="wire")
    paragraphs = WIRE_TEXT.split("\n\n")
    signed = replace(
        wire, id="signed", text=WIRE_TEXT + "\n\nالمصدر: وكالات", published_at=NIGHT - timedelta(hours=4), source="b"
    )
    report = _run(store, _write_night(tmp_path / "night-1", [wire, signed]), "run-1", NIGHT)
    (group,) = report["groups"]
    assert group["articles"] == ["wire", "signed"] and group["kind"] == "near_identical"
    assert report["duplicates"] == [] and report["run"]["articles_analysed"] == 1

    # a later night: a copy with its paragraphs in another order is prepared, found to carry the
    # representative's passages, and analysed no further
    reordered = replace(wire, id="reordered", text="\n\n".join(reversed(paragraphs)), published_at=NIGHT, source="c")
    report = _run(store, _write_night(tmp_path / "night-2", [reordered]), "run-2", NIGHT + timedelta(days=1))
    (grown,) = report["groups"]
    assert grown["id"] == group["id"] and grown["articles"] == ["wire", "signed", "reordered"]
    assert report["run"]["articles_analysed"] == 0 and report["tonight"]["new_duplicates"] == []
    threads = {a["id"]: a["thread"] for a in report["articles"]}
    assert threads["reordered"] == threads["wire"] == threads["signed"]
    assert store.check() == []
