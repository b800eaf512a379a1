"""The report files: JSON content, Markdown and HTML escaping, atomic writes, and the page in Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from corpus.article import Article
from reports.render import md, to_json, to_markdown, write_reports
from reports.site import KIND_WORDS, site_pages
from tests.batch import analyse, analyse_paths
from tests.browser import dump_dom, probe
from tests.conftest import SEEDS, WIRE_PAIR

PAYLOAD = "<script>document.title='PWNED'</script><img src=x onerror=\"document.title='PWNED'\">"
SHARED = "أعلنت الحكومة اليوم عن خطة جديدة لدعم المزارعين في المناطق الجنوبية وتوفير المياه للقرى البعيدة"


def _report(articles):
    return analyse(articles).report


@pytest.fixture(scope="module")
def seed_report(tmp_path_factory):
    inbox = tmp_path_factory.mktemp("inbox")
    shutil.copytree(SEEDS, inbox / "seeds")
    (inbox / "seeds" / "bad.txt").write_text("", encoding="utf-8")
    return analyse_paths([inbox / "seeds"]).report


@pytest.fixture(scope="module")
def hostile_report():
    hostile = Article(
        id="evil<b>1</b>",
        title=f"عنوان {PAYLOAD}",
        text=f"عنوان\n{SHARED} {PAYLOAD}\nفقرة أخرى لا علاقة لها بالخبر الأول على الإطلاق في هذا المقال",
        url="javascript:document.title='PWNED'",
        source="<i>source</i>",
    )
    plain = Article(id="plain", title="خبر", text=f"خبر\n{SHARED} {PAYLOAD}", url="https://example.com/news?a=1&b=2")
    return _report([hostile, plain])


def test_report_json_has_the_documented_fields(seed_report) -> None:
    report = json.loads(json.dumps(seed_report))
    assert {"run", "articles", "duplicates", "threads", "unthreaded", "skipped"} <= set(report)
    assert {"id", "started_at", "encoder", "articles_read", "articles_skipped", "duplicate_pairs"} <= set(report["run"])
    assert report["run"]["articles_read"] == 5 and report["run"]["articles_skipped"] == 1
    assert {"id", "title", "source", "published_at", "thread"} <= set(report["articles"][0])
    pair = report["duplicates"][0]
    assert pair["articles"] == list(WIRE_PAIR)
    assert {"kind", "score", "containment", "matches", "shared_quotes"} <= set(pair)
    assert set(pair["containment"]) == set(WIRE_PAIR)
    ((skipped),) = report["skipped"]
    assert skipped["input"].endswith("seeds/bad.txt") and skipped["reason"].startswith("empty text")
    thread_of = {a["id"]: a["thread"] for a in report["articles"]}
    thread = next(t for t in report["threads"] if WIRE_PAIR[0] in t["articles"])
    assert thread_of[WIRE_PAIR[0]] == thread_of[WIRE_PAIR[1]] == thread["id"]


def test_report_json_has_one_line_per_article_and_pair(seed_report) -> None:
    text = to_json(seed_report)
    assert json.loads(text) == json.loads(json.dumps(seed_report))
    pair_lines = [line for line in text.splitlines() if WIRE_PAIR[0] in line and WIRE_PAIR[1] in line]
    assert any(json.loads(line.strip().rstrip(","))["articles"] == list(WIRE_PAIR) for line in pair_lines)
    article_lines = [line for line in text.splitlines() if line.startswith('    {"id": ') and '"title": ' in line]
    assert len(article_lines) == len(seed_report["articles"])


def test_matched_text_in_the_report_is_the_original_wording(seed_report, seeds_dir: Path) -> None:
    source_texts = {p.stem: p.read_text(encoding="utf-8") for p in seeds_dir.glob("*.txt")}
    a, b = WIRE_PAIR
    for match in seed_report["duplicates"][0]["matches"]:
        assert source_texts[a][match["a"]["start"] : match["a"]["end"]] == match["a"]["text"]
        assert source_texts[b][match["b"]["start"] : match["b"]["end"]] == match["b"]["text"]


def test_markdown_neutralises_markup() -> None:
    assert md("a|b <script>x</script> [link](javascript:x) *bold* AT&T") == (
        "\u2068a\\|b &lt;script&gt;x&lt;/script&gt; \\[link\\](javascript:x) \\*bold\\* AT&amp;T\u2069"
    )
    assert md("line one\nline two") == "\u2068line one line two\u2069"


def test_markdown_keeps_an_arabic_label_and_the_ids_beside_it_in_logical_order(seed_report) -> None:
    # a bidirectional renderer (the Prefect UI) reorders neutral ids around Arabic words unless each
    # value is isolated: FSI (U+2068) ... PDI (U+2069)
    (thread,) = seed_report["threads"]
    markdown = to_markdown(seed_report).splitlines()
    listed = next(line for line in markdown if line.startswith("- **") and thread["id"] in line)
    escaped = [article.replace("_", "\\_") for article in thread["articles"]]  # Markdown's emphasis marker
    members = ", ".join(f"\u2068{article}\u2069" for article in escaped)
    assert listed == f"- **\u2068{thread['id']}\u2069** \u2068{thread['label']}\u2069: {members}"
    # in a line of mixed text (tonight's news), each Arabic run is isolated within it
    news = next(line for line in markdown if line.startswith("- \u2068new thread"))
    assert f"«\u2068{thread['label']}\u2069»" in news


def test_hostile_text_is_escaped_everywhere(hostile_report) -> None:
    assert hostile_report["duplicates"], "the two articles share a paragraph"
    pages = dict(site_pages(hostile_report))
    assert {name.split("/")[0] for name in pages} == {"report.html", "pairs", "threads"}
    for page in pages.values():
        assert "<script" not in page and "<img" not in page and "<i>source" not in page
        assert 'href="javascript:' not in page
    page = next(page for name, page in pages.items() if name.startswith("pairs/") and "list" not in name)
    assert "&lt;script&gt;document.title=&#x27;PWNED&#x27;&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert 'href="https://example.com/news?a=1&amp;b=2"' in page
    markdown = to_markdown(hostile_report)
    assert "<script" not in markdown and "<img" not in markdown
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in markdown


def test_reports_are_written_atomically(seed_report, tmp_path: Path) -> None:
    paths = write_reports(seed_report, tmp_path / "out")
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert [p for p in written if "/" not in p] == ["report.html", "report.json", "report.md"]
    assert not any(Path(p).name.startswith(".") for p in written), "no temporary file left behind"
    assert json.loads(paths["report.json"].read_text(encoding="utf-8")) == json.loads(json.dumps(seed_report))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file; expected a folder"):
        write_reports(seed_report, tmp_path / "file")


def test_arabic_renders_right_to_left_in_chromium(seed_report, tmp_path: Path, chromium: str) -> None:
    write_reports(seed_report, tmp_path)
    (page,) = (p for p in (tmp_path / "pairs").glob("*.html") if not p.name.startswith("list-"))
    found = probe(
        chromium,
        page,
        """return {
          arabic: [...doc.querySelectorAll('[dir=auto]')].filter(e => /[\\u0600-\\u06FF]/.test(e.textContent))
                    .map(e => win.getComputedStyle(e).direction),
          heading: win.getComputedStyle(doc.querySelector('h1')).direction,
          shown: doc.body.innerText.includes('ربما من دولة ثالثة'),
        };""",
    )
    assert len(found["arabic"]) >= 10
    assert set(found["arabic"]) == {"rtl"}
    index = probe(
        chromium,
        tmp_path / "report.html",
        """return [...doc.querySelectorAll('[dir=auto]')].filter(e => /[\\u0600-\\u06FF]/.test(e.textContent))
                   .map(e => win.getComputedStyle(e).direction);""",
    )
    assert index and set(index) == {"rtl"}
    assert found["heading"] == "ltr"
    assert found["shown"]


def test_script_in_article_text_is_shown_not_run(hostile_report, tmp_path: Path, chromium: str) -> None:
    write_reports(hostile_report, tmp_path)
    dom = dump_dom(chromium, (tmp_path / "report.html").resolve().as_uri())
    assert "<title>storythreads report batch</title>" in dom, "a payload that ran would have changed the title"
    (page,) = (p for p in (tmp_path / "pairs").glob("*.html") if not p.name.startswith("list-"))
    found = probe(
        chromium,
        page,
        """return {
          title: doc.title,
          scripts: doc.querySelectorAll('script').length,
          images: doc.querySelectorAll('img').length,
          javascriptLinks: doc.querySelectorAll('a[href^="javascript"]').length,
          payloadShownAsText: doc.body.innerText.includes("<script>document.title='PWNED'</script>"),
        };""",
    )
    assert found == {
        "title": found["title"],
        "scripts": 0,
        "images": 0,
        "javascriptLinks": 0,
        "payloadShownAsText": True,
    }
    # a payload that ran would have set the title to PWNED; shown as text, it follows the pair's kind
    assert found["title"].split(":")[0] in KIND_WORDS.values()


def test_the_terminal_summary_lists_the_strongest_new_pairs_and_counts_the_rest() -> None:
    from reports.render import tonight_lines

    pairs = [{"articles": [f"a{i}", f"b{i}"], "kind": "partial_reuse", "score": i / 100} for i in range(30)]
    report = {
        "run": {"vectors_embedded": 0, "vectors_reused": 0},
        "articles": [],
        "tonight": {"new_articles": [], "new_duplicates": pairs, "new_threads": [], "grown_threads": []},
    }
    lines = tonight_lines(report, limit=5)
    listed = [line for line in lines if "↔" in line]
    assert [line.split()[0] for line in listed] == ["a29", "a28", "a27", "a26", "a25"]
    assert "… and 25 more new pairs (all in report.json)" in [line.strip() for line in lines]
    assert len([line for line in tonight_lines(report) if "↔" in line]) == 30


def test_the_terminal_summary_counts_agree_in_number() -> None:
    from reports.render import tonight_lines

    def first_line(new: int, embedded: int, pairs: int) -> str:
        report = {
            "run": {"vectors_embedded": embedded, "vectors_reused": 0},
            "articles": [],
            "tonight": {
                "new_articles": [f"a{i}" for i in range(new)],
                "new_duplicates": [{"articles": ["a", "b"], "kind": "exact", "score": 1.0}] * pairs,
            },
        }
        return " ".join(tonight_lines(report)[:2])

    assert first_line(1, 1, 1).startswith("1 new article, 0 updated, 0 unchanged; 1 text embedded")
    assert "1 new duplicate pair:" in first_line(1, 1, 1)
    assert first_line(2, 5, 0).startswith("2 new articles, 0 updated, 0 unchanged; 5 texts embedded")
    assert "0 new duplicate pairs" in first_line(2, 5, 0)


def test_report_files_are_readable_as_the_umask_allows(seed_report, tmp_path: Path) -> None:
    import os
    import stat

    from reports.render import write_reports

    before = os.umask(0o022)
    try:
        shared = write_reports(seed_report, tmp_path / "shared")
        os.umask(0o077)
        private = write_reports(seed_report, tmp_path / "private")
    finally:
        os.umask(before)

    def modes(paths: dict[str, Path]) -> set[int]:
        folder = paths["report.html"].parent
        return {stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*") if p.is_file()}

    assert {stat.S_IMODE(p.stat().st_mode) for p in shared.values()} == {0o644}
    assert modes(shared) == {0o644} and len(list((tmp_path / "shared").rglob("*.html"))) >= 5
    assert modes(private) == {0o600}


OUTLETS = ("الشروق", "الخليج", "النهار", "الرأي", "الغد", "الوطن", "القدس")


def _comment(n: int) -> str:
    return f"وعلقت صحيفة {OUTLETS[n]} على الخبر بأن المفاوضات ستتواصل خلال الأسابيع المقبلة"


def _night_with_copies(home: Path, output: Path, extra: int = 0) -> dict:
    """A night on the seeds and four re-published copies of the wire story, each with a comment of its outlet
    (not the same reporting: many pairs, no duplicate group), written to `output`; `extra` more copies on
    top. The store is closed when this returns."""
    from corpus.readers import read_articles
    from embeddings.encoders import LexicalEncoder
    from night.run import run_night
    from store import Store
    from tests.batch import NOW

    seeds = read_articles([SEEDS]).articles
    wire = next(a for a in seeds if a.id == WIRE_PAIR[0])
    copies = [
        Article(id=f"copy-{n}", title=f"{wire.title} ({n})", text=f"{wire.text}\n\n{_comment(n)}")
        for n in range(4 + extra)
    ]
    with Store.open(home) as store:
        night = run_night(store, [*seeds, *copies], LexicalEncoder(), "batch", NOW, outputs=[output])
    assert night.report is not None
    return night.report


def test_the_report_is_the_same_whatever_the_chunks_it_is_read_in(tmp_path: Path, monkeypatch) -> None:
    import reports.report

    def written(name: str) -> dict[str, str]:
        _night_with_copies(tmp_path / name / "home", tmp_path / name / "out")
        folder = tmp_path / name / "out"
        pages = {str(p.relative_to(folder)): p.read_text(encoding="utf-8") for p in folder.rglob("*.html")}
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        markdown = (folder / "report.md").read_text(encoding="utf-8")
        return {"pages": pages, "markdown": markdown, **{k: report[k] for k in ("articles", "duplicates", "threads")}}

    whole = written("whole")
    monkeypatch.setattr(reports.report, "REPORT_CHUNK", 2)
    chunked = written("chunked")
    assert len(whole["articles"]) == 9 and len(whole["duplicates"]) >= 10  # several chunks of each
    for part in ("articles", "duplicates", "threads", "markdown"):
        assert chunked[part] == whole[part], part
    assert set(chunked["pages"]) == set(whole["pages"]) and len(whole["pages"]) > 10
    assert [name for name in whole["pages"] if chunked["pages"][name] != whole["pages"][name]] == []


def test_the_report_a_run_hands_back_outlives_its_store_and_the_next_run(tmp_path: Path) -> None:
    first = _night_with_copies(tmp_path / "home", tmp_path / "out")
    pairs_then = [(p["articles"], p["score"], len(p["matches"])) for p in first["duplicates"]]
    assert first["duplicates"][0]["articles"] == [pair for pair, _, _ in pairs_then][0]
    _night_with_copies(tmp_path / "home", tmp_path / "out", extra=3)  # the same folder, rewritten
    assert json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))["run"]["articles_read"] == 12
    shutil.rmtree(tmp_path / "out")
    assert [(p["articles"], p["score"], len(p["matches"])) for p in first["duplicates"]] == pairs_then
    assert len(first["articles"]) == 9 == len([a["id"] for a in first["articles"]])


def test_latest_mirrors_the_run_folder_and_a_later_run_leaves_the_earlier_folder_as_it_was(tmp_path: Path) -> None:
    from corpus.readers import read_articles
    from embeddings.encoders import LexicalEncoder
    from night.run import run_night
    from store import Store
    from tests.batch import NOW

    seeds = read_articles([SEEDS]).articles
    latest = tmp_path / "reports" / "latest"

    def night(run: str, articles: list[Article]) -> Path:
        folder = tmp_path / "reports" / run
        with Store.open(tmp_path / f"home-{run}") as store:
            run_night(store, articles, LexicalEncoder(), run, NOW, outputs=[folder, latest])
        return folder

    def files(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    first = night("first", seeds)
    first_files = files(first)
    assert files(latest) == first_files and any(name.startswith("pairs/") for name in first_files)
    # another store, without the wire pair's second article: no pair, so the pair page leaves `latest`
    second = night("second", [a for a in seeds if a.id != WIRE_PAIR[1]])
    assert files(first) == first_files, "the earlier run's folder is untouched"
    assert files(latest) == files(second) != first_files
    assert not any(
        name.startswith("pairs/") and name.endswith(".html") and "list-" not in name for name in files(latest)
    )
    assert not any(name.startswith(".") for name in files(latest))


def test_a_pair_page_unchanged_since_the_last_night_is_linked_not_written_again(tmp_path: Path) -> None:
    import dataclasses

    from corpus.readers import read_articles
    from embeddings.encoders import LexicalEncoder
    from night.run import run_night
    from store import Store
    from tests.batch import NOW

    seeds = read_articles([SEEDS]).articles
    latest = tmp_path / "reports" / "latest"

    def night(run: str, articles: list[Article]) -> Path:
        folder = tmp_path / "reports" / run
        with Store.open(tmp_path / "home") as store:
            run_night(store, articles, LexicalEncoder(), run, NOW, outputs=[folder, latest])
        return folder

    def pair_page(folder: Path) -> Path:
        (page,) = (p for p in (folder / "pairs").glob("*.html") if not p.name.startswith("list-"))
        return page

    first = night("first", seeds)
    second = night("second", [*seeds, Article(id="other", title="خبر آخر", text="خبر آخر\\nنص لا علاقة له بالخبر")])
    assert pair_page(second).stat().st_ino == pair_page(first).stat().st_ino  # the same file, linked
    retitled = [dataclasses.replace(a, title="عنوان جديد للخبر") if a.id == WIRE_PAIR[1] else a for a in seeds]
    third = night("third", retitled)
    assert pair_page(third).stat().st_ino != pair_page(first).stat().st_ino
    assert "عنوان جديد للخبر" in pair_page(third).read_text(encoding="utf-8")
    assert "عنوان جديد للخبر" not in pair_page(first).read_text(encoding="utf-8")


def test_a_thread_page_is_written_again_only_when_what_it_shows_changed(tmp_path: Path) -> None:
    from corpus.readers import read_articles
    from embeddings.encoders import LexicalEncoder
    from night.run import run_night
    from store import Store
    from tests.batch import NOW

    seeds = read_articles([SEEDS]).articles
    folder = tmp_path / "report"  # one output folder, rewritten in place night after night

    def night(run: str, articles: list[Article]) -> dict[str, tuple[int, str]]:
        with Store.open(tmp_path / "home") as store:
            run_night(store, articles, LexicalEncoder(), run, NOW, outputs=[folder])
        return {
            p.name: (p.stat().st_mtime_ns, p.read_text(encoding="utf-8"))
            for p in (folder / "threads").glob("*.html")
            if not p.name.startswith("list-")
        }

    wire = [a for a in seeds if a.id in WIRE_PAIR]
    (wire_page,) = night("first", wire)

    def other(n: int) -> Article:
        return Article(id=f"other-{n}", title=f"خبر آخر {n}", text=f"خبر آخر {n}\nنص لا علاقة له بالخبر {n}")

    second = night("second", [*wire, other(1)])
    assert "new tonight" not in second[wire_page][1], "the page changed (no article is new now): written again"
    third = night("third", [*wire, other(1), other(2)])
    assert third[wire_page] == second[wire_page], "an unchanged thread page keeps its file"


def test_tonights_strongest_pairs_are_listed_without_reading_the_rest_of_the_window() -> None:
    from reports.render import new_duplicates_table

    def pair(a: str, score: float, new: bool) -> dict:
        return {
            "articles": [a, f"{a}-copy"],
            "kind": "near_duplicate",
            "score": score,
            "containment": {a: 1.0, f"{a}-copy": 1.0},
            "matches": [],
            "shared_quotes": [],
            "new": new,
        }

    listed = [pair("old-strong", 0.99, False), pair("new-1", 0.9, True), pair("new-2", 0.8, True)]

    def strongest_first():  # a window's pairs as read back from report.json: one pass, strongest first
        yield from listed
        raise AssertionError("read past the pairs asked for")

    report = {"duplicates": strongest_first(), "tonight": {"new_duplicates": [{}, {}, {}]}}
    rows, found_tonight = new_duplicates_table(report, 2)
    assert [row["article_a"] for row in rows] == ["new-1", "new-2"] and found_tonight == 3


def test_the_reports_long_lists_are_read_from_the_store_once_however_often_the_files_go_through_them(tmp_path) -> None:
    """The report's files and site go through its articles and pairs several times: the store is asked for each
    chunk once, and every later pass (and an early stop) gives the same records."""
    from reports.report import Spooled

    asked = []

    def chunks():
        for start in range(0, 7, 3):
            asked.append(start)
            yield [{"id": f"a{n}", "score": n / 3, "first": None} for n in range(start, min(start + 3, 7))]

    records = Spooled(7, chunks)
    assert records[:2] == [{"id": "a0", "score": 0.0, "first": None}, {"id": "a1", "score": 1 / 3, "first": None}]
    first = list(records)
    second = list(records)
    assert first == second == [{"id": f"a{n}", "score": n / 3, "first": None} for n in range(7)]
    assert asked == [0, 0, 3, 6]  # the early stop read one chunk and kept nothing; then one whole pass
    # report.json's lines are the spool's as written: each record as json.dumps gives it, not encoded again
    import json

    assert list(records.json_lines()) == [json.dumps(record, ensure_ascii=False) for record in first]
    assert asked == [0, 0, 3, 6]
