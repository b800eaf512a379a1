"""Reading articles from files: plain text, JSON Lines and news-please JSON.

A bad input never stops the others: it is logged with its file (and line) and the reason,
and listed in `ReadResult.skipped`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpus.article import Article, ReadResult, SkippedInput
from corpus.html import html_to_text, looks_like_html
from corpus.pan import is_pan_corpus, pan_document_folders
from corpus.text import arabic_share

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".text"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
JSON_SUFFIXES = frozenset({".json"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | JSONL_SUFFIXES | JSON_SUFFIXES | HTML_SUFFIXES
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
LEGACY_ENCODINGS = (
    "cp1256", "iso8859_6", "cp720", "cp1252", "latin_1", "cp1251", "koi8_r", "cp1253", "cp1254",
    "cp1255", "iso8859_8", "gb18030", "big5", "shift_jis", "euc_kr",
)  # fmt: skip
"""Encodings tried, by charset-normalizer, for a file that is not UTF-8: those news arrives in."""


class InputError(ValueError):
    """An input that cannot be read as an article; the message says why."""


def read_articles(paths: Iterable[str | Path], max_bytes: int = DEFAULT_MAX_BYTES) -> ReadResult:
    """Read every article under `paths` (files or folders, formats mixed).

    Folders are walked recursively in name order; hidden files are ignored. When the same id
    appears twice, the later version (by publication date, else by reading order) is kept and
    the other is listed as skipped.
    """
    result = ReadResult()
    for path in _expand(paths, result):
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise InputError(f"file is {size} bytes, over the limit of {max_bytes} bytes")
            for item in _read_file(path):
                if isinstance(item, SkippedInput):
                    _skip(result, item)
                else:
                    result.articles.append(item)
        except (InputError, OSError) as error:
            _skip(result, SkippedInput(str(path), str(error)))
    result.articles = _keep_latest(result.articles, result)
    return result


def peek_texts(paths: Iterable[str | Path], max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[str]:
    """Title and text of each article under `paths`, file by file, for warming caches ahead of a run.

    Unlike `read_articles` it says nothing: inputs that fail, and notes on what was read, are
    left to the real read.
    """
    quiet = ReadResult()
    for path in _expand([p for p in map(Path, paths) if p.exists()], quiet):
        try:
            if path.stat().st_size > max_bytes:
                continue
            log.disabled = True
            try:
                items = list(_read_file(path))
            finally:
                log.disabled = False
        except (InputError, OSError):
            continue
        for item in items:
            if isinstance(item, Article):
                yield item.title + "\n" + item.text


def _skip(result: ReadResult, skipped: SkippedInput) -> None:
    log.warning("skipped %s: %s", skipped.input, skipped.reason)
    result.skipped.append(skipped)


def _expand(paths: Iterable[str | Path], result: ReadResult) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and is_pan_corpus(path):
            # a PAN corpus: its documents are articles, its annotation files are not
            yield from _expand(pan_document_folders(path), result)
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden:
                    yield child
        elif path.is_file():
            yield path
        else:
            _skip(result, SkippedInput(str(path), "no such file or folder"))


def _read_file(path: Path) -> Iterator[Article | SkippedInput]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        expected = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise InputError(f"unsupported file type '{suffix or path.name}' (expected one of {expected})")
    text, encoding = decode_with_encoding(path.read_bytes())
    if encoding not in ("utf-8", "utf-8-sig"):
        log.info("%s: read as %s", path, encoding)
    if suffix in TEXT_SUFFIXES:
        articles: Iterable[Article | SkippedInput] = [_article_from_text(path, text)]
    elif suffix in HTML_SUFFIXES:
        articles = [_article_from_html(path, text)]
    elif suffix in JSONL_SUFFIXES:
        articles = _articles_from_jsonl(path, text)
    else:
        articles = _articles_from_json(path, text)
    for item in articles:
        yield replace(item, encoding=encoding) if isinstance(item, Article) else item


def _article_from_html(path: Path, markup: str) -> Article:
    title, text = html_to_text(markup)
    if not text.strip():
        raise InputError("no paragraph left after cleaning the HTML (only markup, scripts or page chrome)")
    return _make_article(id=path.stem, title=title, text=text, origin=str(path))


def decode(data: bytes) -> str:
    """The text of file bytes (see `decode_with_encoding`)."""
    return decode_with_encoding(data)[0]


def decode_with_encoding(data: bytes) -> tuple[str, str]:
    """(text, encoding) of file bytes: UTF-8 (with or without BOM), UTF-16 with BOM, or a detected
    legacy encoding such as Windows-1256 or ISO-8859-6 (charset-normalizer).

    Raises `InputError` for binary data and for bytes no encoding reads as text.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as error:
            raise InputError(f"invalid UTF-16 text ({error.reason} at byte {error.start})") from None
    if b"\x00" in data[:4096]:
        raise InputError("binary file (contains NUL bytes), expected text")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as error:
            raise InputError(f"invalid UTF-8 text after its BOM ({error.reason} at byte {error.start})") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        utf8_error = f"{error.reason} at byte {error.start}"
    from charset_normalizer import from_bytes  # only for the rare legacy file

    best = from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS)).best()
    if best is None:
        raise InputError(f"not text: not UTF-8 ({utf8_error}) and no known encoding reads it")
    text = str(best)
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t\f")
    if controls > max(2, len(text) // 100):
        raise InputError(f"binary file ({controls} control characters when read as {best.encoding}), expected text")
    return text, best.encoding


def _article_from_text(path: Path, text: str) -> Article:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError("empty text (no non-blank line)")
    return _make_article(id=path.stem, title=lines[0], text=text, origin=str(path))


def _articles_from_jsonl(path: Path, text: str) -> Iterator[Article | SkippedInput]:
    if not text.strip():
        raise InputError("empty file (no JSON line)")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
            yield _article_from_record(record, where)
        except json.JSONDecodeError as error:
            yield SkippedInput(where, f"malformed JSON ({error.msg} at column {error.colno})")
        except InputError as error:
            yield SkippedInput(where, str(error))


def _articles_from_json(path: Path, text: str) -> Iterator[Article | SkippedInput]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON ({error.msg} at line {error.lineno})") from None
    if isinstance(data, dict):
        yield _article_from_news_please(data, path)
    elif isinstance(data, list):
        if not data:
            raise InputError("empty JSON list (no article)")
        for number, record in enumerate(data):
            where = f"{path}[{number}]"
            try:
                yield _article_from_record(record, where)
            except InputError as error:
                yield SkippedInput(where, str(error))
    else:
        raise InputError(f"expected a JSON object or a list of objects, got {type(data).__name__}")


def _article_from_record(record: Any, where: str) -> Article:
    if not isinstance(record, dict):
        raise InputError(f"expected a JSON object, got {type(record).__name__}")
    raw_id = record.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise InputError("missing 'id'")
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
        raise InputError(f"'id' must be a string or an integer, got {raw_id!r}")
    text = record.get("text")
    if not isinstance(text, str):
        raise InputError(f"missing 'text' (got {type(text).__name__}, expected a string)")
    return _make_article(
        id=str(raw_id).strip(),
        title=_optional_str(record.get("title")),
        text=text,
        published_at=_parse_date(record.get("published_at"), where),
        source=_optional_str(record.get("source")),
        url=_optional_str(record.get("url")),
        language=_optional_str(record.get("lang") or record.get("language")),
        origin=where,
    )


def _article_from_news_please(record: dict[str, Any], path: Path) -> Article:
    text = record.get("text")
    description = record.get("description")
    if (not isinstance(text, str) or not text.strip()) and isinstance(description, str) and description.strip():
        # news-please leaves 'text' empty when it could not extract the body (video pages, paywalls)
        log.info("%s: 'text' is empty; read its 'description' instead", path)
        text = description
    if not isinstance(text, str):
        raise InputError("news-please record without 'text' or 'description'")
    return _make_article(
        id=path.stem,
        title=_optional_str(record.get("title")),
        text=text,
        published_at=_parse_date(record.get("date_publish"), str(path)),
        source=_optional_str(record.get("source_domain")),
        url=_optional_str(record.get("url")),
        language=_optional_str(record.get("language")),
        origin=str(path),
    )


def _make_article(
    *,
    id: str,
    title: str | None,
    text: str,
    origin: str,
    published_at: datetime | None = None,
    source: str | None = None,
    url: str | None = None,
    language: str | None = None,
) -> Article:
    if not text.strip():
        raise InputError("empty text")
    if looks_like_html(text):
        html_title, text = html_to_text(text)
        if not text.strip():
            raise InputError("no paragraph left after cleaning the HTML in 'text'")
        title = title or html_title
    if not title:
        first = next(line.strip() for line in text.splitlines() if line.strip())
        title = first[:200]
    if language is None and arabic_share(text[:2000]) >= 0.5:
        language = "ar"
    return Article(
        id=id,
        title=title.strip(),
        text=text,
        published_at=published_at,
        source=source,
        url=url,
        language=language,
        origin=origin,
    )


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if not text or text == "None" else text


def _parse_date(value: Any, where: str) -> datetime | None:
    text = _optional_str(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        log.warning("%s: ignored publication date %r (expected ISO 8601)", where, text)
        return None
    # one convention for every input, so dates from different sources compare
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _keep_latest(articles: Sequence[Article], result: ReadResult) -> list[Article]:
    kept: dict[str, Article] = {}
    for article in articles:
        earlier = kept.get(article.id)
        if earlier is None:
            kept[article.id] = article
            continue
        newer, older = article, earlier
        if earlier.published_at and article.published_at and earlier.published_at > article.published_at:
            newer, older = earlier, article
        kept[article.id] = newer
        _skip(
            result,
            SkippedInput(older.origin, f"duplicate id '{article.id}': kept the later version from {newer.origin}"),
        )
    return list(kept.values())
