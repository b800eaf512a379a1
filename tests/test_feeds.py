"""Feeds and pages fetched from a real HTTP server on loopback: RSS and Atom, Arabic and English pages,
failures (404, timeout, redirect loop, oversized page), and the cache that spares unchanged pages."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from corpus.article import Article
from corpus.feeds import FeedArticles
from corpus.readers import read_articles
from corpus.web import USER_AGENT, Fetcher, FetchSettings

ARABIC_PARAGRAPHS = [
    "قال مبعوث الولايات المتحدة الخاص إلى سوريا جيمس جيفري إن روسيا تعمل مع نظام الأسد على نقل مقاتلين إلى ليبيا.",
    "وأضاف جيفري في مؤتمر صحفي أن واشنطن لا تدعم هجوم قوات خليفة حفتر على العاصمة طرابلس وتطالب بوقف القتال.",
    "وأشار إلى أن الولايات المتحدة تعمل مع شركائها الأوروبيين للوصول إلى وقف دائم لإطلاق النار في البلاد.",
]
ENGLISH_PARAGRAPHS = [
    "The US envoy for Syria, James Jeffrey, said Russia was working with the Assad government to move fighters.",
    "Speaking to reporters on Thursday, Jeffrey said Washington did not support the offensive on the capital Tripoli.",
    "He added that the United States was working with European partners towards a lasting ceasefire in the country.",
]
FURNITURE = "جميع الحقوق محفوظة لموقع الأخبار 2026"
MENU = "الرئيسية سياسة اقتصاد رياضة"


def _page(number: int, language: str) -> bytes:
    paragraphs = ARABIC_PARAGRAPHS if language == "ar" else ENGLISH_PARAGRAPHS
    title = f"خبر رقم {number}" if language == "ar" else f"Story number {number}"
    body = "".join(f"<p>{p} ({number})</p>" for p in paragraphs)
    direction = ' dir="rtl"' if language == "ar" else ""
    return (
        f'<!DOCTYPE html><html lang="{language}"{direction}><head><meta charset="utf-8"><title>{title} | الموقع'
        f'</title><meta property="article:published_time" content="2026-12-02T09:0{number}:00+03:00"></head><body>'
        f'<nav><ul><li><a href="/">{MENU}</a></li></ul></nav><main><article><h1>{title}</h1>{body}</article></main>'
        f'<aside><h3>الأكثر قراءة</h3><ul><li><a href="/x">رابط</a></li></ul></aside>'
        f"<footer><p>{FURNITURE}</p></footer>"
        "</body></html>"
    ).encode()


def _rss(base: str) -> bytes:
    links = [f"{base}/ar/{n}.html" for n in range(1, 4)] + [f"{base}/missing.html", f"{base}/slow.html"]
    items = "".join(
        f"<item><title>عنوان {n}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>&lt;p&gt;ملخص الخبر رقم {n} عن ليبيا وطرابلس والمبعوث الأمريكي.&lt;/p&gt;</description>"
        f"<pubDate>Wed, 02 Dec 2026 0{n}:00:00 +0300</pubDate></item>"
        for n, link in enumerate(links, start=1)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>أخبار</title>{items}</channel></rss>'.encode()


def _atom(base: str) -> bytes:
    links = [f"{base}/en/{n}.html" for n in range(1, 5)] + [f"{base}/cached.html"]
    entries = "".join(
        f'<entry><title>Story {n}</title><link href="{link}"/><id>urn:story:{n}</id>'
        f"<updated>2026-12-02T0{n}:00:00Z</updated><summary>Summary of story {n} about Libya.</summary></entry>"
        for n, link in enumerate(links, start=1)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>News</title>'
        f"<id>urn:news</id><updated>2026-12-02T00:00:00Z</updated>{entries}</feed>"
    ).encode()


@dataclass
class Site:
    """The loopback server's address and what it was asked, in order."""

    base: str
    log: list[tuple[str, int, str, float]] = field(default_factory=list)
    """(path, status, User-Agent, time) of each request, as it is answered."""
    arrived: list[str] = field(default_factory=list)
    """The path of each request, as it arrives."""
    hosts: list[tuple[str, float]] = field(default_factory=list)
    """The Host header of each request and when it arrived."""

    def asked(self, path: str) -> list[int]:
        return [status for logged, status, _, _ in self.log if logged == path]


@pytest.fixture
def site() -> Iterator[Site]:
    record = Site("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            record.arrived.append(self.path)
            record.hosts.append((self.headers.get("Host", ""), time.monotonic()))
            status, headers, body = self._answer()
            record.log.append((self.path, status, self.headers.get("User-Agent", ""), time.monotonic()))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError):  # the client gave up waiting (the timeout test)
                self.wfile.write(body)

        def _answer(self) -> tuple[int, dict[str, str], bytes]:
            path = self.path
            html = {"Content-Type": "text/html; charset=utf-8"}
            if path == "/rss.xml":
                return 200, {"Content-Type": "application/rss+xml"}, _rss(record.base)
            if path == "/atom.xml":
                return 200, {"Content-Type": "application/atom+xml"}, _atom(record.base)
            if path.startswith(("/ar/", "/en/")):
                number = int(path.rsplit("/", 1)[1].split(".")[0])
                etag = f'"{path}-v1"'
                if self.headers.get("If-None-Match") == etag:
                    return 304, {"ETag": etag}, b""
                return 200, {**html, "ETag": etag}, _page(number, path[1:3])
            if path == "/cached.html":
                return 200, {**html, "Cache-Control": "max-age=3600"}, _page(9, "en")
            if path == "/slow.html":
                time.sleep(1.5)
                return 200, html, _page(8, "ar")
            if path == "/loop.html":
                return 302, {"Location": "/loop.html"}, b""
            if path == "/huge.html":
                return 200, html, b"<html><body><p>" + b"x" * 300_000 + b"</p></body></html>"
            if path == "/undated.html":
                return 200, {**html, "Last-Modified": formatdate(usegmt=True)}, _page(7, "en")
            return 404, html, b"<html><body>not here</body></html>"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet: the log above is enough
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield record
    server.shutdown()
    server.server_close()


FAST = FetchSettings(timeout_s=0.5, retries=1, retry_wait_s=0.05, per_host_delay_s=0.0)


def _read(site: Site, cache: Path, settings: FetchSettings = FAST) -> tuple[dict[str, Article], dict[str, str]]:
    fetcher = Fetcher(cache, settings)
    try:
        result = read_articles([f"{site.base}/rss.xml", f"{site.base}/atom.xml"], feeds=FeedArticles(fetcher))
    finally:
        fetcher.close()
    return {a.id: a for a in result.articles}, {s.input: s.reason for s in result.skipped}


def test_rss_and_atom_items_are_read_from_their_pages_and_failures_fall_back_to_summaries(
    site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    articles, skipped = _read(site, tmp_path / "cache")
    assert skipped == {}
    assert len(articles) == 10
    arabic = articles[f"{site.base}/ar/2.html"]
    assert arabic.language == "ar" and arabic.source == "127.0.0.1"
    assert ARABIC_PARAGRAPHS[1] in arabic.text
    assert FURNITURE not in arabic.text and MENU not in arabic.text and "الأكثر قراءة" not in arabic.text
    assert arabic.title == "عنوان 2"  # the feed's title, the page's title keeps the site name
    assert arabic.published_at is not None and arabic.published_at.isoformat() == "2026-12-02T06:02:00"
    assert arabic.published_offset == 180  # the page wrote 09:02+03:00
    english = articles[f"{site.base}/en/3.html"]
    assert english.language == "en" and ENGLISH_PARAGRAPHS[2] in english.text
    # the 404 and the timeout: the feed's summary, with a note naming the page and the reason
    missing, slow = articles[f"{site.base}/missing.html"], articles[f"{site.base}/slow.html"]
    assert missing.text == "ملخص الخبر رقم 4 عن ليبيا وطرابلس والمبعوث الأمريكي."
    assert slow.text.startswith("ملخص الخبر رقم 5")
    assert (missing.published_at.isoformat(), missing.published_offset) == ("2026-12-02T01:00:00", 180)  # pubDate
    notes = [r.getMessage() for r in caplog.records if "read the feed's summary instead" in r.getMessage()]
    assert any("missing.html" in note and "HTTP 404" in note for note in notes)
    assert any("slow.html" in note and "no answer within 0.5 s" in note for note in notes)
    assert site.arrived.count("/slow.html") == 2  # tried twice (one retry), both given up on
    assert {agent for _, _, agent, _ in site.log} == {USER_AGENT}


def test_a_page_unchanged_since_last_night_is_not_fetched_again(site: Site, tmp_path: Path) -> None:
    first, _ = _read(site, tmp_path / "cache")
    site.log.clear()
    second, _ = _read(site, tmp_path / "cache")
    assert {i: a.text for i, a in second.items()} == {i: a.text for i, a in first.items()}
    # validated pages: asked conditionally, answered 304 without a body; a fresh one is not asked at all
    assert site.asked("/ar/1.html") == [304] and site.asked("/en/4.html") == [304]
    assert site.asked("/cached.html") == []


def test_requests_to_one_host_are_spaced_by_the_delay(site: Site, tmp_path: Path) -> None:
    settings = FetchSettings(timeout_s=0.5, retries=0, per_host_delay_s=0.2)
    fetcher = Fetcher(None, settings)
    for n in range(1, 4):
        fetcher.get(f"{site.base}/en/{n}.html")
    fetcher.close()
    times = [t for *_, t in site.log]
    assert all(later - earlier >= 0.19 for earlier, later in zip(times, times[1:], strict=False))


def test_a_feeds_pages_on_different_hosts_are_fetched_at_once_each_host_in_turn(site: Site, tmp_path: Path) -> None:
    port = site.base.rsplit(":", 1)[1]
    hosts = [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]  # one server, two hosts to the fetcher
    entries = "".join(
        f'<entry><title>Story {n}</title><link href="{hosts[n % 2]}/en/{n}.html"/><id>urn:{n}</id>'
        f"<updated>2026-12-02T00:00:00Z</updated></entry>"
        for n in range(1, 7)
    )
    feed = tmp_path / "two-hosts.atom"
    feed.write_text(f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{entries}</feed>', encoding="utf-8")
    fetcher = Fetcher(None, FetchSettings(timeout_s=2, retries=0, per_host_delay_s=0.4))
    started = time.monotonic()
    result = read_articles([feed], feeds=FeedArticles(fetcher))
    elapsed = time.monotonic() - started
    fetcher.close()
    assert [a.id for a in result.articles] == [f"{hosts[n % 2]}/en/{n}.html" for n in range(1, 7)]
    for host in ("127.0.0.1", "localhost"):
        times = [t for name, t in site.hosts if name.startswith(host)]
        assert len(times) == 3 and all(b - a >= 0.35 for a, b in zip(times, times[1:], strict=False))
    assert elapsed < 5 * 0.4  # one host after the other would take at least five delays


def test_article_urls_and_failures_name_the_url_and_the_reason(site: Site, tmp_path: Path) -> None:
    fetcher = Fetcher(
        tmp_path / "cache",
        FetchSettings(timeout_s=0.5, retries=0, per_host_delay_s=0.0, max_page_bytes=100_000, max_redirects=3),
    )
    urls = [
        f"{site.base}/en/1.html",
        f"{site.base}/nowhere.html",
        f"{site.base}/loop.html",
        f"{site.base}/huge.html",
        "file:///etc/passwd",
        "ftp://127.0.0.1/feed.xml",
        "http://127.0.0.1:9/closed.html",
        "http://news.invalid/a.html",  # a name that never resolves (RFC 6761)
    ]
    result = read_articles(urls, feeds=FeedArticles(fetcher))
    fetcher.close()
    assert [a.id for a in result.articles] == [f"{site.base}/en/1.html"]
    reasons = {s.input: s.reason for s in result.skipped}
    assert reasons[f"{site.base}/nowhere.html"] == "HTTP 404 Not Found"
    assert reasons[f"{site.base}/loop.html"] == "more than 3 redirects"
    assert (
        reasons[f"{site.base}/huge.html"].startswith("the page is 300")
        and "over the limit of 100000" in reasons[f"{site.base}/huge.html"]
    )
    assert reasons["file:///etc/passwd"] == "only http and https URLs are fetched, got scheme 'file'"
    assert reasons["ftp://127.0.0.1/feed.xml"] == "only http and https URLs are fetched, got scheme 'ftp'"
    assert reasons["http://127.0.0.1:9/closed.html"].startswith("cannot connect")
    assert reasons["http://news.invalid/a.html"].startswith("the host's name does not resolve")


def test_a_feed_file_reads_its_items_summaries_without_a_fetcher(site: Site, tmp_path: Path) -> None:
    feed = tmp_path / "news.atom"
    feed.write_bytes(_atom(site.base))
    result = read_articles([feed])
    assert [a.text for a in result.articles] == [f"Summary of story {n} about Libya." for n in range(1, 6)]
    assert site.log == []


def test_storythreads_run_reads_feed_urls_and_finds_the_rewrites(site: Site, tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    environment = {
        **os.environ,
        "STORYTHREADS_FETCH_TIMEOUT": "0.5",
        "STORYTHREADS_FETCH_RETRIES": "0",
        "STORYTHREADS_FETCH_HOST_DELAY": "0",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    command = [str(Path(sys.executable).with_name("storythreads")), "run", f"{site.base}/rss.xml",
               f"{site.base}/atom.xml", "--home", str(home), "-o", str(out), "--encoder", "lexical"]  # fmt: skip
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["run"]["articles_read"] == 10
    # the Arabic pages carry the same three paragraphs: the report finds them as copies of each other
    paired = {article for pair in report["duplicates"] for article in pair["articles"]}
    assert {f"{site.base}/ar/{n}.html" for n in range(1, 4)} <= paired
    assert any(path.is_file() for path in (home / "http-cache").iterdir())
    assert "missing.html: the page was not read (HTTP 404 Not Found)" in " ".join(done.stderr.split())
