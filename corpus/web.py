"""Fetching feeds and pages over HTTP, politely and within bounds, with a cache across nights.

Only http(s) URLs are fetched; redirects and page sizes are bounded; a host is asked one request at a
time, each at least `per_host_delay_s` after its previous answer ended; timeouts, connection errors,
429 and 5xx answers are retried. A page is kept in the cache folder with its validators (ETag,
Last-Modified) and freshness (Cache-Control max-age, Expires): while fresh it is not requested at
all, afterwards it is asked for conditionally, and a 304 answer ("not modified") reuses the kept copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from corpus.files import write_atomic

log = logging.getLogger(__name__)

USER_AGENT = "storythreads/0.1 (news duplicate and story-thread finder; +https://pypi.org/project/storythreads/)"
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)
_NAME_NOT_FOUND = re.compile(
    r"Name or service not known|nodename nor servname|failure in name resolution|No address associated", re.IGNORECASE
)


@dataclass(frozen=True)
class FetchSettings:
    """How pages are fetched."""

    timeout_s: float = 15.0
    """Seconds to wait to connect, and between bytes of an answer."""
    retries: int = 2
    """Further tries after a timeout, a connection error, a 429 or a 5xx answer."""
    retry_wait_s: float = 1.0
    """Wait before the first retry; doubled before each next one (a server's Retry-After, up to 60 s, wins)."""
    per_host_delay_s: float = 1.0
    """Least time between two requests to one host."""
    max_page_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        for name in ("timeout_s", "retry_wait_s", "per_host_delay_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if self.retries < 0 or self.max_redirects < 0 or self.max_page_bytes < 1:
            raise ValueError(
                f"retries and max_redirects must be 0 or more and max_page_bytes at least 1, got "
                f"{self.retries}, {self.max_redirects}, {self.max_page_bytes}"
            )


@dataclass(frozen=True)
class Page:
    """An answer's body and what is known about it."""

    url: str
    """Where the body came from, after redirects."""
    content_type: str
    body: bytes
    fetched: bool
    """False when the cached copy was used (still fresh, or the server said it had not changed)."""


class FetchError(Exception):
    """A URL that could not be fetched; the message names the URL and the reason."""


class Fetcher:
    """Fetches http(s) URLs (see the module docstring); `cache` is a folder kept between nights, or None.
    Safe to use from several threads."""

    def __init__(self, cache: Path | None = None, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()
        self.cache = cache
        self._client: httpx.Client | None = None
        self._host_locks: dict[str, threading.Lock] = {}
        self._last_answer: dict[str, float] = {}
        self._unreachable: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> Page:
        """The page at `url`, from the cache when it is fresh or unchanged; raises `FetchError`."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(f"{url}: only http and https URLs are fetched, got scheme '{scheme or '(none)'}'")
        host = urlsplit(url).netloc.lower()
        if host in self._unreachable:
            raise FetchError(f"{url}: {self._unreachable[host]} (earlier in this run; not tried again)")
        kept = self._cached(url)
        if kept is not None and kept["fresh_until"] > time.time():
            return Page(kept["final_url"], kept["content_type"], self._body_path(url).read_bytes(), fetched=False)
        headers = {}
        if kept is not None and kept.get("etag"):
            headers["If-None-Match"] = kept["etag"]
        if kept is not None and kept.get("last_modified"):
            headers["If-Modified-Since"] = kept["last_modified"]
        for attempt in range(self.settings.retries + 1):
            try:
                return self._request(url, headers, kept)
            except _Retryable as error:
                if attempt == self.settings.retries:
                    if error.unreachable:
                        self._unreachable[host] = error.reason
                    raise FetchError(f"{url}: {error.reason} (after {attempt + 1} tries)") from None
                backoff = self.settings.retry_wait_s * 2**attempt
                time.sleep(error.retry_after if error.retry_after is not None else backoff)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _request(self, url: str, headers: dict[str, str], kept: dict[str, Any] | None) -> Page:
        client = self._http()
        with self._turn_of(urlsplit(url).netloc.lower()):
            return self._answer(client, url, headers, kept)

    def _answer(self, client: httpx.Client, url: str, headers: dict[str, str], kept: dict[str, Any] | None) -> Page:
        limit = self.settings.max_page_bytes
        try:
            with client.stream("GET", url, headers=headers) as answer:
                if answer.status_code == 304 and kept is not None:
                    self._keep(url, kept["final_url"], kept["content_type"], answer.headers, None)
                    return Page(kept["final_url"], kept["content_type"], self._body_path(url).read_bytes(), False)
                if answer.status_code == 429 or answer.status_code >= 500:
                    raise _Retryable(f"HTTP {answer.status_code} {answer.reason_phrase}", _retry_after(answer))
                if answer.status_code >= 400:
                    raise FetchError(f"{url}: HTTP {answer.status_code} {answer.reason_phrase}")
                declared = int(answer.headers.get("content-length") or 0)
                if declared > limit:
                    raise FetchError(f"{url}: the page is {declared} bytes, over the limit of {limit} bytes")
                body = bytearray()
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise FetchError(f"{url}: the page is over the limit of {limit} bytes")
                final_url = str(answer.url)
                content_type = answer.headers.get("content-type", "")
                self._keep(url, final_url, content_type, answer.headers, bytes(body))
                return Page(final_url, content_type, bytes(body), fetched=True)
        except httpx.TooManyRedirects:
            raise FetchError(f"{url}: more than {self.settings.max_redirects} redirects") from None
        except httpx.UnsupportedProtocol as error:
            raise FetchError(f"{url}: redirected to a URL that is not http(s) ({error})") from None
        except httpx.TimeoutException:
            raise _Retryable(f"no answer within {self.settings.timeout_s:g} s") from None
        except httpx.ConnectError as error:
            if _NAME_NOT_FOUND.search(str(error)):  # no answer for the name: trying again will not help
                reason = "the host's name does not resolve (offline, or a mistyped host?)"
                self._unreachable[urlsplit(url).netloc.lower()] = reason
                raise FetchError(f"{url}: {reason}") from None
            raise _Retryable(f"cannot connect ({error})", unreachable=True) from None
        except httpx.HTTPError as error:
            raise _Retryable(f"{type(error).__name__} ({error})") from None

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                follow_redirects=True,
                max_redirects=self.settings.max_redirects,
                timeout=self.settings.timeout_s,
                headers={"User-Agent": self.settings.user_agent},
            )
        return self._client

    @contextmanager
    def _turn_of(self, host: str) -> Iterator[None]:
        """Hold `host`'s turn: one request at a time per host, starting at least `per_host_delay_s` after
        the previous answer ended, so the host sees the delay however long connecting took. Other hosts
        go ahead meanwhile."""
        if self.settings.per_host_delay_s <= 0:
            yield
            return
        with self._lock:
            host_lock = self._host_locks.setdefault(host, threading.Lock())
        with host_lock:
            last = self._last_answer.get(host)
            if last is not None:
                time.sleep(max(0.0, last + self.settings.per_host_delay_s - time.monotonic()))
            try:
                yield
            finally:
                self._last_answer[host] = time.monotonic()

    def _key(self, url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()[:40]

    def _meta_path(self, url: str) -> Path:
        assert self.cache is not None
        return self.cache / f"{self._key(url)}.json"

    def _body_path(self, url: str) -> Path:
        assert self.cache is not None
        return self.cache / f"{self._key(url)}.body"

    def _cached(self, url: str) -> dict[str, Any] | None:
        if self.cache is None:
            return None
        try:
            kept = json.loads(self._meta_path(url).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if kept.get("url") != url or not self._body_path(url).is_file():
            return None
        return kept

    def _keep(self, url: str, final_url: str, content_type: str, headers: httpx.Headers, body: bytes | None) -> None:
        if self.cache is None:
            return
        control = headers.get("cache-control", "").lower()
        if "no-store" in control:
            return
        meta = {
            "url": url,
            "final_url": final_url,
            "content_type": content_type,
            "etag": headers.get("etag"),
            "last_modified": headers.get("last-modified"),
            "fresh_until": _fresh_until(headers, control),
        }
        if body is not None:
            write_atomic(self._body_path(url), body, durable=False)
        write_atomic(self._meta_path(url), json.dumps(meta), durable=False)


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.unreachable = unreachable


def _retry_after(answer: httpx.Response) -> float | None:
    value = answer.headers.get("retry-after", "")
    return min(float(value), 60.0) if value.isdigit() else None


def _fresh_until(headers: httpx.Headers, control: str) -> float:
    """Until when (epoch seconds) a kept copy may be used without asking the server."""
    if "no-cache" in control:
        return 0.0
    max_age = _MAX_AGE.search(control)
    if max_age:
        return time.time() + int(max_age.group(1))
    expires = headers.get("expires")
    if expires:
        try:
            return parsedate_to_datetime(expires).timestamp()
        except (TypeError, ValueError):
            return 0.0
    return 0.0
