"""The report site: bounded pages at any size, every new pair and thread reachable from the index by relative
links, the earlier article first, shared words marked, and the index quick to render in Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reports.render import write_reports
from reports.site import KIND_WORDS, ROWS_PER_PAGE, site_pages
from tests.batch import analyse_paths
from tests.browser import dump_dom
from tests.conftest import SEEDS, WIRE_PAIR

PARAGRAPH = "قال المتحدث باسم الحكومة إن المفاوضات ستستأنف الأسبوع المقبل في العاصمة بحضور الوسطاء الدوليين "
_HREF = re.compile(r'href="([^"]+)"')


def _large_report(articles: int = 3_000, pairs: int = 1_400, big_thread: int = 1_200) -> dict:
    """A report as a big night leaves it: long titles, many pairs (a few with hundreds of long passages), one very
    large thread."""
    ids = [f"night-{n:05d}" for n in range(articles)]
    passage = {"paragraph": 0, "start": 0, "end": 2_000, "text": (PARAGRAPH * 20)[:2_000]}
    duplicates = [
        {
            "articles": [ids[n], ids[n + 1]],
            "kind": "partial_reuse",
            "score": 0.5 + (n % 50) / 100,
            "containment": {ids[n]: 0.6, ids[n + 1]: 0.4},
            "first": ids[n],
            "matches": [{"similarity": 0.9, "overlap": 0.9, "a": passage, "b": passage}] * (400 if n < 6 else 2),
            "shared_quotes": [],
            "new": n % 3 != 0,
            "found_run": "r",
        }
        for n in range(0, 2 * pairs, 2)
    ]
    threads = [
        {
            "id": "t-big",
            "label": "المفاوضات · الحكومة",
            "articles": ids[:big_thread],
            "first_published": "2026-11-01T00:00:00",
            "last_published": "2026-12-02T00:00:00",
            "new_articles": ids[:10],
        }
    ] + [
        {
            "id": f"t-{n}",
            "label": f"خبر {n}",
            "articles": ids[n : n + 2],
            "first_published": None,
            "last_published": None,
            "new_articles": ids[n : n + 1] if n % 4 == 0 else [],
        }
        for n in range(big_thread, articles - 1, 2)
    ]
    return {
        "run": {
            "id": "r",
            "name": "big-night",
            "started_at": "2026-12-02T23:00:00",
            "articles_read": articles,
            "articles_skipped": 300,
            "articles_in_window": articles,
            "encoder": "lexical",
            "encoder_note": None,
            "vectors_embedded": articles,
            "duplicate_pairs": {"partial_reuse": pairs},
            "threads": len(threads),
            "unthreaded": 0,
        },
        "tonight": {
            "new_articles": ids,
            "updated_articles": [],
            "unchanged_articles": 0,
            "new_threads": [{"id": t["id"], "label": t["label"], "articles": t["articles"]} for t in threads[::4]],
            "grown_threads": [{"id": "t-big", "label": "", "added": ids[:10]}],
            "merges": [],
            "splits": [],
        },
        "articles": [
            {
                "id": i,
                "title": f"عنوان طويل جدا عن {PARAGRAPH * 3} {i}",
                "source": "example.com",
                "published_at": "2026-12-02T06:00:00",
                "url": f"https://example.com/{i}",
            }
            for i in ids
        ],  # fmt: skip
        "duplicates": duplicates,
        "threads": threads,
        "unthreaded": [],
        "skipped": [{"input": f"feed.jsonl:{n}", "reason": "malformed JSON"} for n in range(300)],
    }


@pytest.fixture(scope="module")
def large_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    report = _large_report()
    folder = tmp_path_factory.mktemp("site")
    write_reports(report, folder)
    return report, folder


def test_every_page_stays_under_a_megabyte_and_links_stay_inside_the_site(large_site: tuple[dict, Path]) -> None:
    report, folder = large_site
    pages = sorted(folder.rglob("*.html"))
    assert len(pages) > len(report["duplicates"]) + len(report["threads"])
    biggest = max(pages, key=lambda page: page.stat().st_size)
    assert biggest.stat().st_size < 1_000_000, f"{biggest.name}: {biggest.stat().st_size} bytes"
    for page in pages:
        for href in _HREF.findall(page.read_text(encoding="utf-8")):
            if href.startswith("https://example.com/"):
                continue
            assert not href.startswith(("/", "file:", "http")), f"{page.name} links to {href}"
            assert (page.parent / href).resolve().is_file(), f"{page.name} links to missing {href}"


def test_following_links_from_the_index_reaches_every_pair_and_thread(large_site: tuple[dict, Path]) -> None:
    report, folder = large_site
    reached, waiting = set(), [folder / "report.html"]
    while waiting:
        page = waiting.pop().resolve()
        if page in reached:
            continue
        reached.add(page)
        for href in _HREF.findall(page.read_text(encoding="utf-8")):
            if not href.startswith("https://"):
                waiting.append(page.parent / href)
    names = {str(page.relative_to(folder.resolve())) for page in reached}
    written = [str(page.relative_to(folder)) for page in folder.rglob("*.html")]
    pair_pages = {name for name in written if name.startswith("pairs/") and "list-" not in name}
    thread_pages = {name for name in written if name.startswith("threads/") and "list-" not in name}
    assert len(pair_pages) == len(report["duplicates"]) and pair_pages <= names
    assert len(thread_pages) > len(report["threads"]) and thread_pages <= names  # the big thread spans pages
    assert len(report["duplicates"]) > ROWS_PER_PAGE  # so the lists were paged


def test_the_index_renders_in_chromium_within_two_seconds(large_site: tuple[dict, Path], chromium: str) -> None:
    _, folder = large_site
    dom = dump_dom(chromium, (folder / "report.html").resolve().as_uri(), budget_ms=2000)
    assert "Who copied whom tonight" in dom and "big-night" in dom
    assert "more new pairs in" in dom  # the index shows the strongest and points to the rest


def test_a_pair_page_puts_the_earlier_article_first_and_marks_the_shared_words(tmp_path: Path) -> None:
    report = analyse_paths([SEEDS]).report
    (pair,) = [p for p in report["duplicates"] if p["articles"] == list(WIRE_PAIR)]
    earlier = WIRE_PAIR[1]
    pair["first"] = earlier  # as when the later-listed article was published first
    pages = dict(site_pages(report))
    (page,) = [html for name, html in pages.items() if name.startswith("pairs/") and "list-" not in name]
    assert page.index(earlier) < page.index(WIRE_PAIR[0])
    assert "A · published first" in page
    assert f'share of A found in B: <span class="share">{pair["containment"][earlier]:.0%}' in page
    marked_runs = re.findall(r"<mark>(.*?)</mark>", page)
    assert any("حفتر" in run.split() for run in marked_runs) and any("طرابلس" in run.split() for run in marked_runs)
    assert all("<" not in run for run in marked_runs)
    assert KIND_WORDS[pair["kind"]].capitalize() in page
    assert "containment" not in page and "cosine" not in page


def test_a_rewritten_site_keeps_no_page_of_the_last_run(tmp_path: Path) -> None:
    report = _large_report(articles=40, pairs=10, big_thread=10)
    write_reports(report, tmp_path)
    before = {p.name for p in tmp_path.rglob("*.html")}
    report["duplicates"] = report["duplicates"][:2]
    write_reports(report, tmp_path)
    after = {p.name for p in tmp_path.rglob("*.html")}
    assert after < before and len([p for p in after if p != "report.html" and not p.startswith("list-")]) == 2 + len(
        {name for name, _ in site_pages(report) if name.startswith("threads/") and "list-" not in name}
    )


def test_dates_show_in_the_time_zone_their_source_gave() -> None:
    from reports.site import published

    assert published({"published_at": "2026-12-02T06:00:00", "published_local": "2026-12-02T09:00:00+03:00"}) == (
        "2026-12-02 09:00 UTC+03:00"
    )
    assert published({"published_at": "2026-12-02T06:00:00", "published_local": None}) == "2026-12-02 06:00 UTC"
    assert published({"published_at": None}) == "date unknown"
