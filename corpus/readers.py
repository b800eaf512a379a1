"""Reading articles from files: plain text, JSON Lines and news-please JSON.

A bad input never stops the others: it is logged with its file (and line) and the reason,
and listed in `ReadResult.skipped`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpus.article import Article, ReadResult, SkippedInput
from corpus.pan import is_pan_corpus, pan_document_folders
from corpus.text import arabic_share

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".text"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
JSON_SUFFIXES = frozenset({".json"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | JSONL_SUFFIXES | JSON_SUFFIXES
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


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
    text = decode(path.read_bytes())
    if suffix in TEXT_SUFFIXES:
        yield _article_from_text(path, text)
    elif suffix in JSONL_SUFFIXES:
        yield from _articles_from_jsonl(path, text)
    else:
        yield from _articles_from_json(path, text)


def decode(data: bytes) -> str:
    """Decode file bytes as UTF-8 (with or without BOM) or UTF-16 with BOM.

    Raises `InputError` for binary data and for text in another encoding.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise InputError(f"invalid UTF-16 text ({error.reason} at byte {error.start})") from None
    if b"\x00" in data[:4096]:
        raise InputError("binary file (contains NUL bytes), expected text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text ({error.reason} at byte {error.start}); save the file as UTF-8") from None


def _article_from_text(path: Path, text: str) -> Article:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError("empty text (no non-blank line)")
    return _make_article(id=path.stem, title=lines[0], text=text, origin=str(path))


def _articles_from_jsonl(path: Path, text: str) -> Iterator[Article | SkippedInput]:
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
    if not isinstance(text, str):
        raise InputError("news-please record without 'text'")
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
