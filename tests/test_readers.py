"""Reading articles from text, JSON Lines and news-please JSON; bad inputs skipped with reasons."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

from corpus.readers import read_articles


def test_text_folder_ids_titles_and_text(seeds_dir: Path) -> None:
    result = read_articles([seeds_dir])
    assert [a.id for a in result.articles] == sorted(p.stem for p in seeds_dir.glob("*.txt"))
    first = result.articles[0]
    assert first.title == "واشنطن: نعلم جيدًا أن روسيا تتعاون مع الأسد لنقل مرتزقة إلى ليبيا"
    assert first.text == (seeds_dir / f"{first.id}.txt").read_text(encoding="utf-8")
    assert first.language == "ar"
    assert result.skipped == []


def test_jsonl_records_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    lines = [
        json.dumps(
            {
                "id": "a1",
                "text": "نص المقال الأول",
                "title": "الأول",
                "published_at": "2020-05-07T10:00:00Z",
                "source": "example.com",
                "url": "https://example.com/a1",
                "lang": "ar",
                "extra": [1, 2],
            }
        ),
        "{not json",
        json.dumps({"text": "بلا معرف"}),
        json.dumps({"id": 7, "text": "Second article text"}),
        json.dumps({"id": "a3", "text": None}),
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    result = read_articles([path])
    assert [a.id for a in result.articles] == ["a1", "7"]
    first = result.articles[0]
    assert (first.title, first.source, first.url, first.language) == (
        "الأول",
        "example.com",
        "https://example.com/a1",
        "ar",
    )
    assert first.published_at == datetime(2020, 5, 7, 10, 0)
    assert result.articles[1].title == "Second article text"
    reasons = {s.input: s.reason for s in result.skipped}
    assert reasons[f"{path}:2"].startswith("malformed JSON")
    assert reasons[f"{path}:3"] == "missing 'id'"
    assert "missing 'text'" in reasons[f"{path}:5"]


def test_news_please_json(tmp_path: Path) -> None:
    record = {
        "title": "China opposes launch",
        "text": "China opposes launch\nBeijing said on Friday...",
        "date_publish": "2017-09-15 00:00:00",
        "source_domain": "chinadaily.com.cn",
        "url": "http://africa.chinadaily.com.cn/x.htm",
        "language": None,
        "authors": [],
    }
    (tmp_path / "abc123.json").write_text(json.dumps(record), encoding="utf-8")
    article = read_articles([tmp_path]).articles[0]
    assert (article.id, article.title, article.source) == ("abc123", "China opposes launch", "chinadaily.com.cn")
    assert article.published_at == datetime(2017, 9, 15)
    assert article.language is None


def test_news_please_record_without_text_is_read_from_its_description(tmp_path: Path, caplog) -> None:
    description = "South Korea says the vessel transferred oil to a North Korean ship, violating UN sanctions."
    for name, text in (("null", None), ("blank", "  ")):
        record = {"title": "China accused", "text": text, "description": description, "source_domain": "cnn.com"}
        (tmp_path / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
    (tmp_path / "neither.json").write_text(json.dumps({"title": "x", "text": None}), encoding="utf-8")
    # a crawl's records in one JSON Lines file, as news-please writes them today ('maintext')
    crawl = [
        {"url": "https://cnn.com/a", "maintext": None, "description": description, "date_publish": "2017-12-29"},
        {"url": "https://cnn.com/b", "maintext": "The body.", "description": "x", "source_domain": "cnn.com"},
    ]
    (tmp_path / "crawl.jsonl").write_text("\n".join(json.dumps(r) for r in crawl), encoding="utf-8")
    with caplog.at_level(logging.INFO):
        result = read_articles([tmp_path])
    assert {a.id: a.text for a in result.articles} == {
        "blank": description,
        "null": description,
        "https://cnn.com/a": description,
        "https://cnn.com/b": "The body.",
    }
    assert [(Path(s.input).name, s.reason) for s in result.skipped] == [
        ("neither.json", "news-please record without 'maintext', 'text' or 'description'")
    ]
    assert sum("read its 'description' instead" in r.getMessage() for r in caplog.records) == 3


def test_bad_files_are_skipped_with_named_reasons_and_the_rest_read(tmp_path: Path, seeds_dir: Path) -> None:
    for seed in seeds_dir.glob("*.txt"):
        (tmp_path / seed.name).write_bytes(seed.read_bytes())
    (tmp_path / "empty.txt").write_text("  \n\n", encoding="utf-8")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "controls.txt").write_bytes(bytes(range(1, 32)) * 8 + b"\xff\xfe\xfd")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    (tmp_path / "notes.xml").write_text("<x/>", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("ignored", encoding="utf-8")
    result = read_articles([tmp_path])
    assert len(result.articles) == 5
    reasons = {Path(s.input).name: s.reason for s in result.skipped}
    assert reasons == {
        "empty.txt": "empty text (no non-blank line)",
        "image.txt": "binary file (contains NUL bytes), expected text",
        "controls.txt": reasons["controls.txt"],
        "broken.json": reasons["broken.json"],
        "notes.xml": reasons["notes.xml"],
    }
    assert reasons["controls.txt"].startswith("binary file") or reasons["controls.txt"].startswith("not text")
    assert reasons["broken.json"].startswith("malformed JSON")
    assert reasons["notes.xml"].startswith("not an RSS or Atom feed")


def test_utf16_and_bom_inputs_read_like_utf8(tmp_path: Path) -> None:
    text = "عنوان\nنص عربي"
    (tmp_path / "a.txt").write_bytes(text.encode("utf-16"))
    (tmp_path / "b.txt").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    articles = read_articles([tmp_path]).articles
    assert [a.text for a in articles] == [text, text]


def test_oversized_and_missing_inputs(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("كلمة " * 100, encoding="utf-8")
    result = read_articles([big, tmp_path / "nowhere"], max_article_bytes=100)
    reasons = {Path(s.input).name: s.reason for s in result.skipped}
    assert reasons["nowhere"] == "no such file or folder"
    assert reasons["big.txt"] == (
        f"article is {big.stat().st_size} bytes, over the limit of 100 bytes"
        " (raise it with --max-article-bytes or STORYTHREADS_MAX_ARTICLE_BYTES)"
    )


def test_same_id_twice_keeps_the_later_version_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"id": "x", "text": "newer text", "published_at": "2020-01-02"},
                {"id": "x", "text": "older text", "published_at": "2020-01-01"},
                {"id": "y", "text": "first"},
                {"id": "y", "text": "second"},
            ]
        ),
        encoding="utf-8",
    )
    result = read_articles([path])
    assert {a.id: a.text for a in result.articles} == {"x": "newer text", "y": "second"}
    assert [s.input for s in result.skipped] == [f"{path}:2", f"{path}:3"]
    assert all(s.reason.startswith("duplicate id") for s in result.skipped)


def test_a_date_keeps_the_time_zone_its_input_gave(tmp_path: Path) -> None:
    records = [
        {"id": "amman", "text": "نص", "published_at": "2026-12-02T09:00:00+03:00"},
        {"id": "utc", "text": "نص", "published_at": "2026-12-02T06:00:00Z"},
        {"id": "naive", "text": "نص", "published_at": "2026-12-02T06:00:00"},
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    read = {a.id: (a.published_at, a.published_offset) for a in read_articles([tmp_path]).articles}
    six = datetime(2026, 12, 2, 6)
    assert read == {"amman": (six, 180), "utc": (six, 0), "naive": (six, None)}


def test_titles_lose_the_section_and_site_names_their_source_repeats(tmp_path: Path) -> None:
    folder = tmp_path / "local"
    folder.mkdir()
    for n in range(3):  # each file's first line is the section
        (folder / f"{n}.txt").write_text(f"محلي\n\nالبلدية تفتتح حديقة جديدة رقم {n}\n\nنص الخبر.", encoding="utf-8")
    records = [
        {"id": f"s{n}", "title": f"ارتفاع أسعار الذهب رقم {n} - المغرب اليوم", "text": "نص", "source": "site"}
        for n in range(3)
    ] + [{"id": "alone", "title": "خبر وحيد - موقع آخر", "text": "نص", "source": "other"}]
    records += [  # short titles, and titles in a script without spaces, are titles
        {"id": f"zh{n}", "title": f"弗吉尼亚州彩票{n}", "text": f"弗吉尼亚州彩票{n}\n我们注意到", "source": "zh"}
        for n in range(3)
    ]
    (tmp_path / "feed.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8")
    titles = {a.id: a.title for a in read_articles([tmp_path]).articles}
    assert titles == {
        "0": "البلدية تفتتح حديقة جديدة رقم 0",
        "1": "البلدية تفتتح حديقة جديدة رقم 1",
        "2": "البلدية تفتتح حديقة جديدة رقم 2",
        "s0": "ارتفاع أسعار الذهب رقم 0",
        "s1": "ارتفاع أسعار الذهب رقم 1",
        "s2": "ارتفاع أسعار الذهب رقم 2",
        "alone": "خبر وحيد - موقع آخر",  # one article of its source: nothing is repeated
        **{f"zh{n}": f"弗吉尼亚州彩票{n}" for n in range(3)},
    }
