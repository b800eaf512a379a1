"""A folder of hostile inputs through the real command: every bad one named and skipped, the rest processed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus.readers import read_articles
from flows.cli import app
from tests.browser import dump_dom, probe
from tests.conftest import SEEDS, WIRE_PAIR

PAYLOAD = "<script>document.title='PWNED'</script><img src=x onerror=\"document.title='PWNED'\">"


def _seed(name: str) -> str:
    return next(SEEDS.glob(f"{name}_*.txt")).read_text(encoding="utf-8")


@pytest.fixture
def hostile_inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for seed in SEEDS.glob("*.txt"):
        (inbox / seed.name).write_bytes(seed.read_bytes())
    # the wire story again, saved by a Windows newsroom tool
    (inbox / "wire-cp1256.txt").write_bytes(_seed("000").encode("cp1256"))
    arabic = "\n".join(line for line in _seed("003").splitlines() if line.strip())
    (inbox / "legacy-iso.txt").write_bytes(arabic.encode("iso8859_6", errors="ignore"))
    (inbox / "utf16.txt").write_bytes("خبر بترميز آخر\nنص الخبر القصير".encode("utf-16"))
    (inbox / "page.html").write_text(
        "<html><head><title>صفحة خبر</title><style>p{color:red}</style><script>steal()</script></head>"
        "<body><nav>الرئيسية</nav><h1>صفحة خبر</h1><p>نص الخبر في صفحة ويب كاملة.</p></body></html>",
        encoding="utf-8",
    )
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "blank.txt").write_text("  \n\t \n", encoding="utf-8")
    (inbox / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (inbox / "chrome-only.html").write_text("<html><script>x()</script><nav>menu</nav></html>", encoding="utf-8")
    (inbox / "huge.txt").write_text("كلمة " * 60_000, encoding="utf-8")
    lines = [
        '{"id": "j-ok", "text": "خبر سليم في ملف سطور"}',
        '{"id": "j-broken", "text": ',
        '{"text": "خبر بلا معرف"}',
        '{"id": "j-notext", "title": "عنوان فقط"}',
        '{"id": "twice", "text": "النسخة الأولى", "published_at": "2026-11-20T08:00:00Z"}',
        '{"id": "twice", "text": "النسخة المصححة", "published_at": "2026-11-21T08:00:00Z"}',
        json.dumps(
            {
                "id": "../../escape",
                "title": f"عنوان {PAYLOAD}",
                "text": f"نص فيه {PAYLOAD} وكلام",
                "url": "javascript:document.title='PWNED'",
                "source": "<i>source</i>",
            },
            ensure_ascii=False,
        ),
    ]
    (inbox / "batch.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return inbox


def test_hostile_inbox_runs_to_completion(
    hostile_inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chromium: str
) -> None:
    monkeypatch.setenv("STORYTHREADS_MAX_ARTICLE_BYTES", "200000")
    home, out = tmp_path / "home", tmp_path / "out"
    result = CliRunner().invoke(
        app, ["run", str(hostile_inbox), "--home", str(home), "--output", str(out), "--encoder", "lexical"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))

    skipped = {Path(s["input"]).name: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {
        "empty.txt",
        "blank.txt",
        "photo.txt",
        "chrome-only.html",
        "huge.txt",
        "batch.jsonl:2",
        "batch.jsonl:3",
        "batch.jsonl:4",
        "batch.jsonl:5",
    }
    assert skipped["empty.txt"].startswith("empty text") and skipped["blank.txt"].startswith("empty text")
    assert skipped["photo.txt"].startswith("binary file")
    assert skipped["chrome-only.html"].startswith("no paragraph left after cleaning")
    assert (
        skipped["huge.txt"].startswith("article is 540000 bytes")
        and "over the limit of 200000 bytes" in skipped["huge.txt"]
    )
    assert skipped["batch.jsonl:2"].startswith("malformed JSON")
    assert skipped["batch.jsonl:3"] == "missing 'id'"
    assert skipped["batch.jsonl:4"].startswith("missing 'text'")
    assert skipped["batch.jsonl:5"].startswith("duplicate id 'twice': kept the later version")

    articles = {a["id"]: a for a in report["articles"]}
    expected = {p.stem for p in SEEDS.glob("*.txt")} | {
        "wire-cp1256",
        "legacy-iso",
        "utf16",
        "page",
        "j-ok",
        "twice",
        "../../escape",
    }
    assert set(articles) == expected
    assert articles["wire-cp1256"]["encoding"] == "cp1256"
    assert articles["legacy-iso"]["encoding"] == "iso8859_6"
    assert articles["utf16"]["encoding"] == "utf-16"
    assert articles["page"]["title"] == "صفحة خبر"
    assert articles["twice"]["title"] == "النسخة المصححة"

    # the same story in Windows-1256 (or ISO-8859-6, blank lines dropped) and UTF-8 is the same text after
    # folding: one duplicate group each
    assert sorted((g["kind"], sorted(g["articles"])) for g in report["groups"]) == sorted(
        [("identical", ["003_d8e06b09afdf7b02", "legacy-iso"]), ("identical", sorted([WIRE_PAIR[0], "wire-cp1256"]))]
    )
    pairs = {tuple(p["articles"]): p["kind"] for p in report["duplicates"]}
    assert pairs[WIRE_PAIR] == "near_duplicate"

    # ids and inputs never name output files: only the home and the output folder were written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "inbox", "out"]
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()

    page = out / "report.html"
    dom = dump_dom(chromium, page.resolve().as_uri())
    assert "<title>storythreads report" in dom, "a payload that ran would have changed the title"
    found = probe(
        chromium,
        page,
        """return {title: doc.title, scripts: doc.querySelectorAll('script').length,
                   images: doc.querySelectorAll('img').length,
                   links: [...doc.querySelectorAll('a')].map(a => a.getAttribute('href'))};""",
    )
    assert found["title"].startswith("storythreads report")
    assert found["scripts"] == 0 and found["images"] == 0
    # links go to http(s) pages or to pages of the report site, in its folder
    for link in found["links"]:
        assert link.startswith(("http://", "https://")) or (out / link).resolve().parent.is_relative_to(out.resolve())
    for other in out.rglob("*.html"):
        for link in re.findall(r'href="([^"]*)"', other.read_text(encoding="utf-8")):
            assert link.startswith(("http://", "https://")) or (other.parent / link).resolve().is_file(), link
    assert articles["../../escape"]["title"] == f"عنوان {PAYLOAD}"  # kept as data, shown only as text


def test_windows_1256_and_utf8_read_to_the_same_text(tmp_path: Path) -> None:
    (tmp_path / "utf8.txt").write_text(_seed("000"), encoding="utf-8")
    (tmp_path / "windows.txt").write_bytes(_seed("000").encode("cp1256"))
    articles = {a.id: a for a in read_articles([tmp_path]).articles}
    assert articles["utf8"].text == articles["windows"].text
    assert (articles["utf8"].encoding, articles["windows"].encoding) == ("utf-8", "cp1256")
