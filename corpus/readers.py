"""Reading articles from files, feeds and pages: plain text, HTML, JSON Lines, JSON lists, news-please
JSON and RSS/Atom, each also gzip- or Zstandard-compressed (`.gz`, `.zst`).

A bad input never stops the others: it is logged with its file (and line) and the reason,
and listed in `ReadResult.skipped`. Containers (JSON Lines, JSON lists, feeds) are read record
by record, so the size limit applies to each article, never to the file that holds them.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from corpus.article import Article, ReadResult, SkippedInput, in_utc
from corpus.html import html_to_text, is_whole_page, looks_like_html, page_text
from corpus.pan import is_pan_corpus, pan_document_folders
from corpus.text import MAX_WORD_CHARS, content_terms, fold
from corpus.titles import clean_titles
from corpus.tokens import arabic_share, junk_characters

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".text"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
JSON_SUFFIXES = frozenset({".json"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | JSONL_SUFFIXES | JSON_SUFFIXES | HTML_SUFFIXES | FEED_SUFFIXES
COMPRESSED_SUFFIXES = frozenset({".gz", ".zst"})
DEFAULT_MAX_ARTICLE_BYTES = 20 * 1024 * 1024
MAX_ARTICLE_BYTES_SETTING = "--max-article-bytes or STORYTHREADS_MAX_ARTICLE_BYTES"
"""Where a user raises the limit; named by every message about an article over it."""
LEGACY_ENCODINGS = (
    "cp1256", "iso8859_6", "cp720", "cp1252", "latin_1", "cp1251", "koi8_r", "cp1253", "cp1254",
    "cp1255", "iso8859_8", "gb18030", "big5", "shift_jis", "euc_kr",
)  # fmt: skip
"""Encodings tried, by charset-normalizer, for a file that is not UTF-8: those news arrives in."""

NOT_FETCHED = "URLs are read only by a run that may fetch them"
FeedReader = Callable[[bytes, str], Iterator[Article | SkippedInput]]
"""Turns a feed's bytes (and where it came from) into articles: `corpus.feeds.FeedArticles`."""


class InputError(ValueError):
    """An input that cannot be read as an article; the message says why."""


def over_limit(size: int | None, limit: int) -> str:
    """The reason given for an article over the size limit (`size` None: not measured, compressed), naming
    the setting that raises it."""
    measured = f"{size} bytes" if size is not None else f"more than {limit} bytes once decompressed"
    return f"article is {measured}, over the limit of {limit} bytes (raise it with {MAX_ARTICLE_BYTES_SETTING})"


def read_articles(
    paths: Iterable[str | Path],
    max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES,
    feeds: FeedReader | None = None,
) -> ReadResult:
    """Read every article under `paths` (files or folders, formats mixed; URLs when `feeds` is given).

    Folders are walked recursively in name order; hidden files are ignored. When the same id
    appears twice, the later version (by publication date, else by reading order) is kept and
    the other is listed as skipped. Titles lose the section and site names their source repeats
    (`corpus.titles`). `feeds` reads RSS/Atom feeds and fetches URLs
    (`corpus.feeds.FeedArticles`); without it a feed gives its items' summaries and URLs are skipped.
    """
    result = ReadResult()
    for item in iter_articles(paths, max_article_bytes, feeds):
        if isinstance(item, SkippedInput):
            _skip(result, item)
        else:
            result.articles.append(item)
    result.articles = clean_titles(_keep_latest(result.articles, result))
    return result


def iter_articles(
    paths: Iterable[str | Path],
    max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES,
    feeds: FeedReader | None = None,
) -> Iterator[Article | SkippedInput]:
    """Each article under `paths`, or the reason an input was skipped, in reading order, one record at a time."""
    if max_article_bytes < 1:
        raise ValueError(f"max_article_bytes must be at least 1, got {max_article_bytes}")
    for raw in paths:
        if is_url(raw):
            if feeds is None:
                yield SkippedInput(str(raw), NOT_FETCHED)
            else:
                yield from feeds(b"", str(raw))
            continue
        for path in _expand(raw):
            if isinstance(path, SkippedInput):
                yield path
                continue
            try:
                yield from _read_file(path, max_article_bytes, feeds)
            except (InputError, OSError, EOFError) as error:
                yield SkippedInput(str(path), str(error))
            except Exception as error:  # a decompressor's own error (zstandard.ZstdError, zlib.error)
                if not _is_decompression_error(error):
                    raise
                yield SkippedInput(str(path), f"corrupt compressed data ({error})")


def is_url(raw: str | Path) -> bool:
    """Whether an input names a URL (any scheme) rather than a file."""
    text = str(raw)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isascii() and scheme.isalpha() and not Path(text).exists()


def _skip(result: ReadResult, skipped: SkippedInput) -> None:
    # listed in the report and the run's summary: an info line here, not a second warning in the terminal
    log.info("skipped %s: %s", skipped.input, skipped.reason)
    result.skipped.append(skipped)


def _expand(raw: str | Path) -> Iterator[Path | SkippedInput]:
    path = Path(raw)
    if path.is_dir() and is_pan_corpus(path):
        # a PAN corpus: its documents are articles, its annotation files are not
        for folder in pan_document_folders(path):
            yield from _expand(folder)
    elif path.is_dir():
        for child in sorted(path.rglob("*")):
            hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
            if child.is_file() and not hidden:
                yield child
    elif path.is_file():
        yield path
    else:
        yield SkippedInput(str(path), "no such file or folder")


def _read_file(path: Path, limit: int, feeds: FeedReader | None) -> Iterator[Article | SkippedInput]:
    compression = path.suffix.lower() if path.suffix.lower() in COMPRESSED_SUFFIXES else None
    suffix = Path(path.stem).suffix.lower() if compression else path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        expected = ", ".join(sorted(SUPPORTED_SUFFIXES))
        also = " (each also as .gz or .zst)"
        raise InputError(f"unsupported file type '{suffix or path.name}' (expected one of {expected}{also})")
    with _open(path, compression) as stream:
        if suffix in JSONL_SUFFIXES:
            yield from _articles_from_jsonl(path, stream, limit)
            return
        if suffix in JSON_SUFFIXES and _first_byte(stream) == b"[":
            yield from _articles_from_json_list(path, stream, limit)
            return
        data = _read_at_most(stream, limit)
        if data is None:
            raise InputError(over_limit(path.stat().st_size if compression is None else None, limit))
    if suffix in FEED_SUFFIXES:
        if feeds is None:
            from corpus.feeds import FeedArticles  # feedparser, only for feeds

            feeds = FeedArticles()
        yield from feeds(data, str(path))
        return
    text, encoding = decode_with_encoding(data)
    if encoding not in ("utf-8", "utf-8-sig"):
        log.info("%s: read as %s", path, encoding)
    name = Path(path.stem).stem if compression else path.stem  # a.txt.gz is article a, like a.txt
    if suffix in TEXT_SUFFIXES:
        article = _article_from_text(path, name, text)
    elif suffix in HTML_SUFFIXES:
        article = _article_from_html(path, name, text)
    else:
        article = _article_from_json_object(path, name, text)
    yield replace(article, encoding=encoding)


def _read_at_most(stream: IO[bytes], limit: int) -> bytes | None:
    """The whole stream, or None once it holds more than `limit` bytes (read in chunks: a limit far above
    the data's size must not be allocated)."""
    chunks, size = [], 0
    while chunk := stream.read(min(1 << 22, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
    return b"".join(chunks)


def _open(path: Path, compression: str | None) -> IO[bytes]:
    if compression == ".gz":
        return gzip.open(path, "rb")
    if compression == ".zst":
        import zstandard  # only for .zst inputs

        return io.BufferedReader(zstandard.open(path, "rb"))
    return path.open("rb")


def _is_decompression_error(error: Exception) -> bool:
    import zlib

    module = type(error).__module__ or ""
    return isinstance(error, zlib.error) or module.startswith("zstandard")


def _first_byte(stream: IO[bytes]) -> bytes:
    head = stream.peek(64)[:64].lstrip(b" \t\r\n\xef\xbb\xbf")  # type: ignore[attr-defined]
    return head[:1]


def _article_from_html(path: Path, name: str, markup: str) -> Article:
    page = page_text(markup)
    if not page.text.strip():
        raise InputError("no paragraph left after cleaning the HTML (only menus, scripts or page chrome)")
    return make_article(
        id=name, title=page.title, text=page.text, origin=str(path), published_at=page.published_at,
        published_offset=page.published_offset, language=page.language,
    )  # fmt: skip


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


def _article_from_text(path: Path, name: str, text: str) -> Article:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputError("empty text (no non-blank line)")
    return make_article(id=name, title=lines[0], text=text, origin=str(path))


def _articles_from_jsonl(path: Path, stream: IO[bytes], limit: int) -> Iterator[Article | SkippedInput]:
    if stream.peek(2)[:2] in (b"\xff\xfe", b"\xfe\xff"):  # type: ignore[attr-defined]
        stream = codecs.EncodedFile(stream, "utf-8", "utf-16")  # type: ignore[assignment]
    any_line = False
    legacy: str | None = None  # a legacy encoding found on an earlier line: tried first on the next
    for number, line, size in _lines(stream, limit):
        where = f"{path}:{number}"
        if line is None:
            yield SkippedInput(where, over_limit(size, limit))
            continue
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")
        if not line.strip():
            continue
        any_line = True
        try:
            text, encoding = _decode_line(line, legacy)
            legacy = encoding if encoding != "utf-8" else legacy
            record = json.loads(text)
            article = _article_from_record(record, where)
            yield replace(article, encoding=encoding) if encoding != "utf-8" else article
        except json.JSONDecodeError as error:
            yield SkippedInput(where, f"malformed JSON ({error.msg.removesuffix(' at')} at column {error.colno})")
        except InputError as error:
            yield SkippedInput(where, str(error))
    if not any_line:
        yield SkippedInput(str(path), "empty file (no JSON line)")


def _lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(number, bytes, size) of each line; the bytes are None for a line over `limit`, which is read past
    without being kept."""
    number = 0
    while line := stream.readline(limit + 1):
        number += 1
        if len(line) <= limit or line.endswith(b"\n"):
            yield number, line, len(line)
            continue
        size = len(line)
        while chunk := stream.readline(1 << 20):
            size += len(chunk)
            if chunk.endswith(b"\n"):
                break
        yield number, None, size


def _decode_line(line: bytes, legacy: str | None) -> tuple[str, str]:
    try:
        return line.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if legacy is not None:
        try:
            return line.decode(legacy), legacy
        except UnicodeDecodeError:
            pass
    return decode_with_encoding(line)


def _articles_from_json_list(path: Path, stream: IO[bytes], limit: int) -> Iterator[Article | SkippedInput]:
    import ijson  # only for JSON lists: streams them record by record

    number = -1
    try:
        for number, record in enumerate(ijson.items(stream, "item", use_float=True)):
            where = f"{path}[{number}]"
            size = _record_bytes(record, limit)
            if size > limit:
                yield SkippedInput(where, over_limit(size, limit))
                continue
            try:
                yield _article_from_record(record, where)
            except InputError as error:
                yield SkippedInput(where, str(error))
    except ijson.JSONError as error:
        yield SkippedInput(f"{path}[{number + 1}]", f"malformed JSON ({error}); the rest of the file is not read")
        return
    if number < 0:
        yield SkippedInput(str(path), "empty JSON list (no article)")


def _record_bytes(record: Any, limit: int) -> int:
    """The UTF-8 size of a record, counted exactly only when its strings could reach `limit`."""
    if not isinstance(record, dict):
        return 0
    chars = sum(len(value) for value in record.values() if isinstance(value, str))
    if chars * 4 <= limit:
        return chars
    return len(json.dumps(record, ensure_ascii=False).encode("utf-8"))


def _article_from_json_object(path: Path, name: str, text: str) -> Article:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object or a list of objects, got {type(data).__name__}")
    return _article_from_news_please(data, str(path), default_id=name)


NEWS_PLEASE_KEYS = frozenset({"date_publish", "date_download", "source_domain", "maintext", "title_page"})
"""Fields that mark a record as news-please's: read with its field names and its 'description' fallback."""


def _article_from_record(record: Any, where: str) -> Article:
    if not isinstance(record, dict):
        raise InputError(f"expected a JSON object, got {type(record).__name__}")
    if NEWS_PLEASE_KEYS & record.keys():
        return _article_from_news_please(record, where, default_id=None)
    article_id = _record_id(record.get("id"))
    text = record.get("text")
    if not isinstance(text, str):
        raise InputError(f"missing 'text' (got {type(text).__name__}, expected a string)")
    return make_article(
        id=article_id,
        title=_optional_str(record.get("title")),
        text=text,
        **_published(record.get("published_at"), where),
        source=_optional_str(record.get("source")),
        url=_optional_str(record.get("url")),
        language=_optional_str(record.get("lang") or record.get("language")),
        origin=where,
    )


def _record_id(raw_id: Any) -> str:
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise InputError("missing 'id'")
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
        raise InputError(f"'id' must be a string or an integer, got {raw_id!r}")
    return str(raw_id).strip()


def _article_from_news_please(record: dict[str, Any], where: str, default_id: str | None) -> Article:
    """A news-please record: its body in 'maintext' (or 'text' in older versions), else its 'description'.

    Its id is its 'id', else the file it was read from (one record per file), else its 'filename' or 'url'.
    """
    body = next((record[key] for key in ("maintext", "text") if isinstance(record.get(key), str)), None)
    description = record.get("description")
    if (body is None or not body.strip()) and isinstance(description, str) and description.strip():
        # news-please leaves the body empty when it could not extract it (video pages, paywalls)
        log.warning("%s: the body is empty; read its 'description' instead", where)
        body = description
    if body is None:
        raise InputError("news-please record without 'maintext', 'text' or 'description'")
    fallback_id = default_id or record.get("filename") or record.get("url")
    return make_article(
        id=_record_id(record.get("id") or fallback_id),
        title=_optional_str(record.get("title")),
        text=body,
        **_published(record.get("date_publish"), where),
        source=_optional_str(record.get("source_domain")),
        url=_optional_str(record.get("url")),
        language=_optional_str(record.get("language")),
        origin=where,
    )


def make_article(
    *,
    id: str,
    title: str | None,
    text: str,
    origin: str,
    published_at: datetime | None = None,
    published_offset: int | None = None,
    source: str | None = None,
    url: str | None = None,
    language: str | None = None,
) -> Article:
    """The article of one input, as every reader makes it: HTML in its text read as such, the title
    (else its first line) and the language (Arabic when most of its letters are) filled in; raises
    `InputError` when no text is left."""
    if not text.strip():
        raise InputError("empty text")
    if looks_like_html(text):
        if is_whole_page(text):
            page = page_text(text)
            html_title, text = page.title, page.text
        else:
            html_title, text = html_to_text(text)
        if not text.strip():
            raise InputError("no paragraph left after cleaning the HTML in 'text'")
        title = title or html_title
    _check_words(text, origin)
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
        published_offset=published_offset,
        source=source,
        url=url,
        language=language,
        origin=origin,
    )


def _check_words(text: str, origin: str) -> None:
    """Raise `InputError` for a text with no word besides junk (`corpus.text.is_junk`: a binary or encoded blob, a
    run without spaces); warn, naming `origin`, when junk is most of a text that has words too."""
    junk = junk_characters(text)
    if not junk:
        return
    if not content_terms(fold(text)):
        raise InputError(
            f"not text: {junk:,} of its {len(text):,} characters are runs of over {MAX_WORD_CHARS} characters "
            "without a space or encoded blobs (base64, hex), and no word is left"
        )
    if junk * 2 >= len(text):
        log.warning(
            "%s: %s of its %s characters are runs without spaces or encoded blobs, not words: they are left out",
            origin,
            f"{junk:,}",
            f"{len(text):,}",
        )


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if not text or text == "None" else text


def _published(value: Any, where: str) -> dict[str, Any]:
    """`published_at` (UTC) and `published_offset` of an ISO 8601 date, for `_make_article`."""
    text = _optional_str(value)
    if text is None:
        return {}
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        log.warning("%s: ignored publication date %r (expected ISO 8601)", where, text)
        return {}
    published_at, published_offset = in_utc(parsed)
    return {"published_at": published_at, "published_offset": published_offset}


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
