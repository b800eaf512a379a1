"""Containers read record by record (the size limit is per article) and compressed inputs read like plain ones."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import zstandard

from corpus.readers import read_articles

LIMIT = 4_000


def _record(number: int, text: str | None = None) -> dict[str, str]:
    text = text or f"نص الخبر رقم {number} عن الاجتماع في طرابلس."
    return {"id": f"a{number}", "title": f"خبر {number}", "text": text}


def _feed_lines(path: Path) -> list[str]:
    """A night's feed far larger than the limit, with one record over it and one malformed line."""
    lines = [json.dumps(_record(n), ensure_ascii=False) for n in range(300)]
    lines[40] = json.dumps(_record(40, "كلمة " * (LIMIT // 4)), ensure_ascii=False)
    lines[41] = '{"id": "a41", "text": "unterminated'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def test_a_feed_larger_than_the_limit_skips_only_the_oversized_record_and_the_malformed_line(tmp_path: Path) -> None:
    feed = tmp_path / "night.jsonl"
    lines = _feed_lines(feed)
    assert feed.stat().st_size > 5 * LIMIT
    result = read_articles([feed], max_article_bytes=LIMIT)
    assert len(result.articles) == 298
    oversized, malformed = result.skipped
    assert oversized.input == f"{feed}:41"
    assert oversized.reason.startswith(f"article is {len(lines[40].encode()) + 1} bytes, over the limit of {LIMIT}")
    assert "STORYTHREADS_MAX_ARTICLE_BYTES" in oversized.reason
    assert malformed.input == f"{feed}:42" and malformed.reason.startswith("malformed JSON")
    assert result.articles[40].id == "a42"  # the record after both is read


def test_a_json_list_streams_and_skips_the_record_over_the_limit(tmp_path: Path) -> None:
    records = [_record(n) for n in range(50)]
    records[7] = _record(7, "word " * LIMIT)
    path = tmp_path / "night.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    result = read_articles([path], max_article_bytes=LIMIT)
    assert len(result.articles) == 49
    assert [s.input for s in result.skipped] == [f"{path}[7]"]
    assert result.skipped[0].reason.startswith("article is ")


def test_a_json_list_cut_short_keeps_the_records_before_the_break(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(json.dumps([_record(n) for n in range(5)], ensure_ascii=False)[:-40], encoding="utf-8")
    result = read_articles([path])
    assert [a.id for a in result.articles] == ["a0", "a1", "a2", "a3"]
    assert [s.input for s in result.skipped] == [f"{path}[4]"]
    assert "malformed JSON" in result.skipped[0].reason


def test_gzip_and_zstandard_files_read_like_their_plain_forms(tmp_path: Path, seeds_dir: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    feed = plain / "night.jsonl"
    _feed_lines(feed)
    seed = sorted(seeds_dir.glob("*.txt"))[0]
    (plain / seed.name).write_bytes(seed.read_bytes())
    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "night.jsonl.gz").write_bytes(gzip.compress(feed.read_bytes()))
    (packed / f"{seed.name}.zst").write_bytes(zstandard.ZstdCompressor().compress(seed.read_bytes()))

    def read(folder: Path) -> tuple[list[tuple[str, str, str]], list[str]]:
        result = read_articles([folder], max_article_bytes=LIMIT)
        articles = sorted((a.id, a.title, a.text) for a in result.articles)
        return articles, sorted(s.reason for s in result.skipped)

    plain_articles, plain_skipped = read(plain)
    packed_articles, packed_skipped = read(packed)
    assert packed_articles == plain_articles and len(packed_articles) == 299
    assert [r.split(",")[0] for r in packed_skipped] == [r.split(",")[0] for r in plain_skipped]


def test_a_compressed_article_over_the_limit_and_corrupt_archives_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "big.txt.gz").write_bytes(gzip.compress(("كلمة " * LIMIT).encode()))
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(b'{"id": "x", "text": "y"}\n' * 50)[:-20])
    (tmp_path / "noise.txt.zst").write_bytes(b"\x28\xb5\x2f\xfd" + bytes(range(200)))
    (tmp_path / "photo.png.gz").write_bytes(gzip.compress(b"\x89PNG"))
    result = read_articles([tmp_path], max_article_bytes=LIMIT)
    reasons = {Path(s.input).name: s.reason for s in result.skipped}
    assert reasons["big.txt.gz"].startswith(f"article is more than {LIMIT} bytes once decompressed")
    assert "cut.jsonl.gz" in reasons and "noise.txt.zst" in reasons
    assert reasons["photo.png.gz"].startswith("unsupported file type '.png'")
    # what a truncated archive held before the cut is still read
    assert len(result.articles) == 1 and result.articles[0].id == "x"


def test_utf16_json_lines_stream(tmp_path: Path) -> None:
    path = tmp_path / "utf16.jsonl"
    path.write_bytes("\n".join(json.dumps(_record(n), ensure_ascii=False) for n in range(3)).encode("utf-16"))
    assert [a.id for a in read_articles([path]).articles] == ["a0", "a1", "a2"]


def test_a_limit_far_above_the_data_reads_every_format(tmp_path: Path, seeds_dir: Path) -> None:
    seed = sorted(seeds_dir.glob("*.txt"))[0]
    (tmp_path / "a.txt").write_bytes(seed.read_bytes())
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(seed.read_bytes()))
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b'{"id": "c", "text": "x"}\n'))
    result = read_articles([tmp_path], max_article_bytes=1 << 40)  # never allocated
    assert sorted(a.id for a in result.articles) == ["a", "b", "c"] and not result.skipped


def test_a_json_lines_file_in_a_legacy_encoding_streams_in_it(tmp_path: Path) -> None:
    records = [_record(n) for n in range(200)]
    path = tmp_path / "windows.jsonl"
    path.write_bytes("\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode("cp1256"))
    articles = read_articles([path]).articles
    assert [a.text for a in articles] == [r["text"] for r in records]
    assert {a.encoding for a in articles} == {"cp1256"}
