"""One tokenisation per text, compiled: code points → folded → words → light stems → 64-bit term ids.

Every stage that compares words reads what this gives: the content terms of a text in order, each with
its 64-bit id (a hash of the stem's code points: the same in every process, run and machine), the
offsets of the whitespace-delimited token it came from (reports show the original wording) and the
length of its stem. It is the compiled form of `corpus.text.term_positions` (fold each token, split it
into `\\w` words, drop function words, single characters, numbers and junk, stem the rest): numba kernels
over NumPy arrays of code points, with the folding and character classes read from tables built once
from Python's own `str` methods, so the two agree word for word (`tests/test_tokens.py`). One difference
is known: a character is folded on its own, so a Greek capital sigma ends a word as «σ», where Python's
`lower` of the whole word writes «ς».

Weighed: PyStemmer's Snowball Arabic stemmer strips far more than the light stemmer the matching rules
were tuned with (and would still leave folding and splitting to Python); pyarrow or polars string
kernels would split and fold at C speed, but a second stage in Python would still stem and hash each
word. numba is already here (the lexical encoder), installs from wheels, and runs the whole chain in
one pass over each text.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numba import njit

from corpus.text import _TABLE, MAX_WORD_CHARS, STOPWORDS, fold, words

_FOLDED_BY_TABLE = frozenset(_TABLE)
LONGEST_STOPWORD = max(map(len, STOPWORDS))

CODE_POINTS = 0x110000
SPACE, WORD, DIGIT, ALPHA, ENCODED = 1, 2, 4, 8, 16
"""Character classes: `str.isspace`, `\\w` (`isalnum` or `_`), `isdigit`, `isalpha`, and the characters of an
encoded blob (base64 or hexadecimal, `corpus.text.is_junk`)."""
DELETED = np.uint32(0xFFFFFFFF)
MULTIPLE = np.uint32(0xFFFFFFFE)
TABLES_VERSION = 1
"""Part of the cached tables' file name: raised when what the tables hold changes."""


@dataclass(frozen=True)
class Tables:
    """What the kernels need to know about characters: classes, folding, and the function words' hashes."""

    classes: np.ndarray
    """uint8 per code point: `SPACE` | `WORD` | `DIGIT` | `ALPHA` | `ENCODED` bits, of the character as written."""
    folded: np.ndarray
    """uint32 per code point: its folded form (`corpus.text.fold`) when one character, else `DELETED` or `MULTIPLE`."""
    multiple_keys: np.ndarray
    """The code points that fold to several characters, sorted; their characters follow in `multiple_chars`."""
    multiple_starts: np.ndarray
    multiple_chars: np.ndarray
    stopwords: np.ndarray
    """Sorted hashes (`hash_codes`) of the folded function words."""


@njit(cache=True, nogil=True)
def hash_codes(codes: np.ndarray, start: int, end: int) -> np.uint64:  # pragma: no cover - compiled
    """A 64-bit hash of `codes[start:end]` (FNV-1a, then splitmix64's finaliser); never 0."""
    h = np.uint64(0xCBF29CE484222325)
    for i in range(start, end):
        h = (h ^ np.uint64(codes[i])) * np.uint64(0x100000001B3)
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    h = h ^ (h >> np.uint64(31))
    return h if h != np.uint64(0) else np.uint64(1)


_WAW, _FEH, _BEH, _LAM, _KAF, _ALEF = 0x648, 0x641, 0x628, 0x644, 0x643, 0x627
_HEH, _YEH, _TEH, _NOON, _MEEM = 0x647, 0x64A, 0x62A, 0x646, 0x645


@njit(cache=True, nogil=True)
def _stem(buffer: np.ndarray, start: int, end: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """`corpus.text.stem` of `buffer[start:end]` (folded), as the bounds of the stem inside it."""
    if end - start >= 4 and (buffer[start] == _WAW or buffer[start] == _FEH):
        start += 1
    length = end - start
    first = buffer[start] if length > 0 else 0
    second = buffer[start + 1] if length > 1 else 0
    third = buffer[start + 2] if length > 2 else 0
    stripped = 0
    if length >= 3 and second == _ALEF and third == _LAM and first in (_WAW, _FEH, _BEH, _KAF):
        stripped = 3  # وال فال بال كال
    elif length >= 2 and second == _LAM and first in (_LAM, _ALEF):
        stripped = 2  # لل ال
    if stripped and length - stripped >= 2:
        start += stripped
    elif length >= 4 and first in (_BEH, _LAM, _KAF):
        start += 1
    if end - start >= 4 and (buffer[start] == _WAW or buffer[start] == _FEH):
        start += 1
    length = end - start
    if length >= 5:
        last, before = buffer[end - 1], buffer[end - 2]
        if (
            (before == _ALEF and last == _TEH)
            or (before == _WAW and last == _NOON)
            or (before == _YEH and last == _NOON)
            or (before == _HEH and last == _ALEF)
            or (before == _HEH and last == _MEEM)
        ):
            return start, end - 2
    if length >= 4 and (buffer[end - 1] == _HEH or buffer[end - 1] == _YEH):
        return start, end - 1
    return start, end


@njit(cache=True, nogil=True)
def _is_junk(codes: np.ndarray, classes: np.ndarray, start: int, end: int, longest: int) -> bool:  # pragma: no cover
    """`corpus.text.is_junk` of the token `codes[start:end]`."""
    if end - start > longest:
        return True
    if end - start < 24:
        return False
    digits = 0
    letters = 0
    for i in range(start, end):
        kind = classes[codes[i]]
        if not kind & ENCODED:
            return False
        if kind & DIGIT:
            digits += 1
        elif kind & ALPHA:
            letters += 1
    return digits >= 2 and letters >= 2


@njit(cache=True, nogil=True)
def _tokenise(
    codes: np.ndarray,
    bounds: np.ndarray,
    classes: np.ndarray,
    folded: np.ndarray,
    multiple_keys: np.ndarray,
    multiple_starts: np.ndarray,
    multiple_chars: np.ndarray,
    stopwords: np.ndarray,
    longest_stopword: int,
    longest: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The content terms of each text `codes[bounds[i]:bounds[i + 1]]`: ids, token starts and ends (within the
    text), stem lengths, each text's first term (`firsts`, one more than texts), and the stems' code points."""
    capacity = len(codes) // 2 + 1
    ids = np.empty(capacity, dtype=np.uint64)
    starts = np.empty(capacity, dtype=np.int32)
    ends = np.empty(capacity, dtype=np.int32)
    lengths = np.empty(capacity, dtype=np.uint8)
    firsts = np.empty(len(bounds), dtype=np.int64)
    stems = np.empty(len(codes) + 16, dtype=np.uint32)
    buffer = np.empty(longest * 32 + 64, dtype=np.uint32)
    count = 0
    stem_count = 0
    for text in range(len(bounds) - 1):
        firsts[text] = count
        base, stop = bounds[text], bounds[text + 1]
        i = base
        while i < stop:
            while i < stop and classes[codes[i]] & SPACE:
                i += 1
            if i >= stop:
                break
            token_start = i
            while i < stop and not classes[codes[i]] & SPACE:
                i += 1
            token_end = i
            if _is_junk(codes, classes, token_start, token_end, longest):
                continue
            size = 0
            for k in range(token_start, token_end):
                code = codes[k]
                mapped = folded[code]
                if mapped == DELETED:
                    continue
                if mapped == MULTIPLE:
                    at = np.searchsorted(multiple_keys, code)
                    for m in range(multiple_starts[at], multiple_starts[at + 1]):
                        buffer[size] = multiple_chars[m]
                        size += 1
                else:
                    buffer[size] = mapped
                    size += 1
            w = 0
            while w < size:
                while w < size and not classes[buffer[w]] & WORD:
                    w += 1
                if w >= size:
                    break
                word_start = w
                all_digits = True
                while w < size and classes[buffer[w]] & WORD:
                    if not classes[buffer[w]] & DIGIT:
                        all_digits = False
                    w += 1
                word_end = w
                if word_end - word_start < 2 or all_digits:
                    continue
                if word_end - word_start <= longest_stopword:
                    word_hash = hash_codes(buffer, word_start, word_end)
                    at = np.searchsorted(stopwords, word_hash)
                    if at < len(stopwords) and stopwords[at] == word_hash:
                        continue
                stem_start, stem_end = _stem(buffer, word_start, word_end)
                ids[count] = hash_codes(buffer, stem_start, stem_end)
                starts[count] = token_start - base
                ends[count] = token_end - base
                lengths[count] = min(stem_end - stem_start, 255)
                for k in range(stem_start, stem_end):
                    stems[stem_count] = buffer[k]
                    stem_count += 1
                count += 1
    firsts[len(bounds) - 1] = count
    return ids[:count], starts[:count], ends[:count], lengths[:count], firsts, stems[:stem_count]


@dataclass(frozen=True)
class Tokens:
    """The content terms of one text, in order (see the module docstring); `stem_lengths` count code points."""

    ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    stem_lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def within(self, start: int, end: int) -> Tokens:
        """The terms whose token lies inside `start`..`end` of the text."""
        return self[np.searchsorted(self.starts, start) : np.searchsorted(self.ends, end, side="right")]

    def ids_within(self, spans: Sequence[tuple[int, int]]) -> list[np.ndarray]:
        """The ids of `within(start, end)` for each span, worked out for all the spans at once."""
        if not spans:
            return []
        bounds = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
        lows = np.searchsorted(self.starts, bounds[:, 0]).tolist()
        highs = np.searchsorted(self.ends, bounds[:, 1], side="right").tolist()
        return [self.ids[low:high] for low, high in zip(lows, highs, strict=True)]

    def __getitem__(self, part: slice | np.ndarray) -> Tokens:
        return Tokens(self.ids[part], self.starts[part], self.ends[part], self.stem_lengths[part])


@dataclass(frozen=True)
class Tokenised:
    """Many texts' terms as flat arrays: text i's are `firsts[i]:firsts[i + 1]`; `stems` holds each term's stem as
    code points, one after another (`stem_lengths` long each)."""

    ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    stem_lengths: np.ndarray
    firsts: np.ndarray
    stems: np.ndarray

    def __len__(self) -> int:
        return len(self.firsts) - 1

    def __getitem__(self, text: int) -> Tokens:
        part = slice(int(self.firsts[text]), int(self.firsts[text + 1]))
        return Tokens(self.ids[part], self.starts[part], self.ends[part], self.stem_lengths[part])

    def stem_strings(self) -> list[str]:
        """Each term's stem as a string (for tests and labels: a stem is a slice of its folded word)."""
        bounds = np.concatenate(([0], np.cumsum(self.stem_lengths, dtype=np.int64)))
        text = self.stems.astype("<u4").tobytes().decode("utf-32-le")
        return [text[bounds[i] : bounds[i + 1]] for i in range(len(self.ids))]


def tokenise(texts: Sequence[str]) -> Tokenised:
    """The content terms of each text, in one pass of compiled code over all of them."""
    tables = character_tables()
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ids, starts, ends, stem_lengths, firsts, stems = _tokenise(
        codes,
        bounds,
        tables.classes,
        tables.folded,
        tables.multiple_keys,
        tables.multiple_starts,
        tables.multiple_chars,
        tables.stopwords,
        LONGEST_STOPWORD,
        MAX_WORD_CHARS,
    )
    # the compiled pass sized its arrays for a term every other character: an article's `Tokens` are views of
    # these, and would keep that size alive (about three times the terms) for as long as the article is held
    return Tokenised(ids.copy(), starts.copy(), ends.copy(), stem_lengths.copy(), firsts, stems.copy())


def arabic_share(text: str) -> float:
    """Share of letters (`str.isalpha`) in `text` that are in the Arabic script (0.0 when there are none)."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    letters = (character_tables().classes[points] & ALPHA) != 0
    count = int(np.count_nonzero(letters))
    if not count:
        return 0.0
    arabic = ((points >= 0x0600) & (points <= 0x06FF)) | ((points >= 0x0750) & (points <= 0x077F))
    return int(np.count_nonzero(letters & arabic)) / count


def junk_characters(text: str) -> int:
    """`corpus.text.junk_chars` of `text` (the characters of its tokens that are no words), compiled."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return int(_junk_characters(codes, character_tables().classes, MAX_WORD_CHARS))


@njit(cache=True, nogil=True)
def _junk_characters(codes: np.ndarray, classes: np.ndarray, longest: int) -> int:  # pragma: no cover - compiled
    junk = 0
    i = 0
    while i < len(codes):
        while i < len(codes) and classes[codes[i]] & SPACE:
            i += 1
        start = i
        while i < len(codes) and not classes[codes[i]] & SPACE:
            i += 1
        if i > start and _is_junk(codes, classes, start, i, longest):
            junk += i - start
    return junk


def folded_words(text: str) -> tuple[str, int]:
    """`" ".join(words(fold(text)))` and how many words that is (`corpus.text`), by the compiled tables; a text with
    a character that folds by its context (a presentation form, folded with the whole text; a capital sigma,
    lowered by its place in the word) goes the Python way."""
    tables = character_tables()
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    joined, count, by_context = _folded_words(
        codes, tables.classes, tables.folded, tables.multiple_keys, tables.multiple_starts, tables.multiple_chars
    )
    if by_context:
        found = words(fold(text))
        return " ".join(found), len(found)
    return joined.tobytes().decode("utf-32-le"), count


@njit(cache=True, nogil=True)
def _folded_words(
    codes: np.ndarray,
    classes: np.ndarray,
    folded: np.ndarray,
    multiple_keys: np.ndarray,
    multiple_starts: np.ndarray,
    multiple_chars: np.ndarray,
) -> tuple[np.ndarray, int, bool]:  # pragma: no cover - compiled
    """The folded `\\w` words of `codes`, one space between them; their count; whether a character folds by its
    context (see `folded_words`), when the rest is not worked out."""
    longest = 1
    for length in np.diff(multiple_starts):
        longest = max(longest, length)
    out = np.empty(len(codes) * (longest + 1) + 1, dtype=np.uint32)
    size = 0
    count = 0
    inside = False
    for code in codes:
        if code == 0x03A3 or 0xFB50 <= code <= 0xFDFF or 0xFE70 <= code <= 0xFEFF:
            return out[:0], 0, True
        mapped = folded[code]
        if mapped == DELETED:
            continue
        first, last = 0, 1
        if mapped == MULTIPLE:
            at = np.searchsorted(multiple_keys, code)
            first, last = multiple_starts[at], multiple_starts[at + 1]
        for m in range(first, last):
            char = multiple_chars[m] if mapped == MULTIPLE else mapped
            if classes[char] & WORD:
                if not inside:
                    if count:
                        out[size] = 32
                        size += 1
                    count += 1
                    inside = True
                out[size] = char
                size += 1
            else:
                inside = False
    return out[:size], count, False


def term_ids(text: str) -> np.ndarray:
    """The ids of the content terms of one text, in order."""
    return tokenise([text]).ids


def string_id(term: str) -> int:
    """The hash of a string's code points: the id of a term given as its stem (what `tokenise` gives the words
    that stem to it); of a folded function word, how it is looked up."""
    codes = np.frombuffer(term.encode("utf-32-le"), dtype=np.uint32)
    return int(hash_codes(codes, 0, len(codes)))


@lru_cache(maxsize=1)
def character_tables() -> Tables:
    """The tables, read from the cache folder when built before by this Python (same Unicode data), else built
    (about half a second) and kept there."""
    cache = _cache_file()
    if cache is not None and cache.is_file():
        try:
            with np.load(cache) as saved:
                return Tables(**{name: saved[name] for name in Tables.__dataclass_fields__})
        except (OSError, ValueError, KeyError):
            pass
    tables = _build_tables()
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp.npz")
            np.savez(partial, **{name: getattr(tables, name) for name in Tables.__dataclass_fields__})
            os.replace(partial, cache)
        except OSError:
            pass  # a read-only home: built again next time
    return tables


def _cache_file() -> Path | None:
    root = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    name = f"tokens-v{TABLES_VERSION}-unicode{unicodedata.unidata_version}-{_definition_digest()}.npz"
    return Path(root) / "storythreads" / name


def _definition_digest() -> str:
    """A digest of what the tables are built from: the folding table and the function words."""
    source = repr(sorted(_TABLE.items())) + "\n" + "\n".join(sorted(STOPWORDS))
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]


def _build_tables() -> Tables:
    classes = np.zeros(CODE_POINTS, dtype=np.uint8)
    folded = np.arange(CODE_POINTS, dtype=np.uint32)
    multiple: dict[int, str] = {}
    encoded = set(map(ord, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_=-"))
    for code in range(CODE_POINTS):
        if 0xD800 <= code <= 0xDFFF:
            continue  # surrogates: no character
        char = chr(code)
        kind = 0
        if char.isspace():
            kind |= SPACE
        if char.isalnum() or char == "_":
            kind |= WORD
        if char.isdigit():
            kind |= DIGIT
        if char.isalpha():
            kind |= ALPHA
        if code in encoded:
            kind |= ENCODED
        classes[code] = kind
        if code not in _FOLDED_BY_TABLE and not 0xFB50 <= code <= 0xFEFF and char.lower() == char:
            continue  # folds to itself
        form = fold(char)
        if len(form) == 1:
            folded[code] = ord(form)
        elif not form:
            folded[code] = DELETED
        else:
            folded[code] = MULTIPLE
            multiple[code] = form
    keys = np.array(sorted(multiple), dtype=np.uint32)
    starts = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(multiple[int(k)]) for k in keys], out=starts[1:])
    chars = np.array([ord(c) for k in keys for c in multiple[int(k)]], dtype=np.uint32)
    stopwords = np.array(sorted({string_id(word) for word in STOPWORDS}), dtype=np.uint64)
    return Tables(classes, folded, keys, starts, chars, stopwords)


def joined_stems(found: Tokenised, terms: np.ndarray) -> str:
    """The stems of the terms at indexes `terms` of `found`, space-separated, in one string."""
    if not len(terms):
        return ""
    offsets = np.concatenate(([0], np.cumsum(found.stem_lengths, dtype=np.int64)))
    lengths = found.stem_lengths[terms].astype(np.int64)
    starts = offsets[terms]
    # each stem's code points, then a space: a ragged gather in one vectorised step
    sizes = lengths + 1
    ends = np.cumsum(sizes)
    position = np.arange(int(ends[-1])) - np.repeat(ends - sizes, sizes)
    source = np.repeat(starts, sizes) + position
    codes = np.where(position < np.repeat(lengths, sizes), found.stems[np.minimum(source, len(found.stems) - 1)], 32)
    return codes[:-1].astype("<u4").tobytes().decode("utf-32-le")


def distinct_stems(found: Tokenised) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct term ids of `found`, sorted, with the bounds of each one's stem in the code points returned."""
    if not len(found.ids):
        return np.zeros(0, np.uint64), np.zeros(1, np.int64), np.zeros(0, np.uint32)
    ids, first = np.unique(found.ids, return_index=True)
    offsets = np.concatenate(([0], np.cumsum(found.stem_lengths, dtype=np.int64)))
    lengths = found.stem_lengths[first].astype(np.int64)
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    position = np.arange(int(bounds[-1])) - np.repeat(bounds[:-1], lengths)
    codes = found.stems[np.repeat(offsets[first], lengths) + position]
    return ids, bounds, codes


def pack(terms: Tokens) -> bytes:
    """`terms` as compact bytes for the store: the ids as they are (8 bytes each, random), then, compressed, each
    token's distance from the one before, its length and its stem's (they repeat and stay small)."""
    count = len(terms)
    gaps = np.diff(terms.starts, prepend=0).astype("<u4")
    lengths = (terms.ends - terms.starts).astype("<u2")
    small = zlib.compress(gaps.tobytes() + lengths.tobytes() + terms.stem_lengths.astype("u1").tobytes(), 1)
    return count.to_bytes(4, "little") + terms.ids.astype("<u8").tobytes() + small


def unpack(blob: bytes) -> Tokens:
    """The `Tokens` that `pack` kept."""
    count = int.from_bytes(blob[:4], "little")
    ids = np.frombuffer(blob, dtype="<u8", count=count, offset=4).astype(np.uint64)
    small = zlib.decompress(blob[4 + 8 * count :])
    gaps = np.frombuffer(small, dtype="<u4", count=count)
    lengths = np.frombuffer(small, dtype="<u2", count=count, offset=4 * count)
    stems = np.frombuffer(small, dtype="u1", count=count, offset=6 * count)
    starts = np.cumsum(gaps, dtype=np.int64).astype(np.int32)
    return Tokens(ids, starts, (starts + lengths).astype(np.int32), stems.astype(np.uint8))


@dataclass(frozen=True)
class TermTable:
    """The stem (as code points) of each of some terms, by id: what a character n-gram encoder reads terms by."""

    ids: np.ndarray
    """Sorted distinct term ids."""
    bounds: np.ndarray
    codes: np.ndarray

    @classmethod
    def of(cls, found: Tokenised) -> TermTable:
        return cls(*distinct_stems(found))

    @classmethod
    def merged(cls, tables: Sequence[TermTable]) -> TermTable:
        """One table of the terms of all `tables` (a term in several once)."""
        tables = [table for table in tables if len(table.ids)]
        if not tables:
            return cls(np.zeros(0, np.uint64), np.zeros(1, np.int64), np.zeros(0, np.uint32))
        ids = np.concatenate([table.ids for table in tables])
        lengths = np.concatenate([np.diff(table.bounds) for table in tables])
        offsets = _offsets(tables)
        starts = np.concatenate([table.bounds[:-1] + offset for table, offset in zip(tables, offsets, strict=True)])
        codes = np.concatenate([table.codes for table in tables])
        kept, first = np.unique(ids, return_index=True)
        kept_lengths = lengths[first]
        bounds = np.concatenate(([0], np.cumsum(kept_lengths)))
        position = np.arange(int(bounds[-1])) - np.repeat(bounds[:-1], kept_lengths)
        return cls(kept, bounds, codes[np.repeat(starts[first], kept_lengths) + position])

    def stem_strings(self) -> list[str]:
        """Each term's stem, row by row."""
        text = self.codes.astype("<u4").tobytes().decode("utf-32-le")
        bounds = self.bounds.tolist()
        return [text[bounds[i] : bounds[i + 1]] for i in range(len(self.ids))]

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The row of each of `ids` in this table; `KeyError` if one is not in it."""
        rows = np.searchsorted(self.ids, ids)
        if len(ids) and (rows.max() >= len(self.ids) or not np.array_equal(self.ids[rows], ids)):
            raise KeyError("a term is not in the table")
        return rows

    def __len__(self) -> int:
        return len(self.ids)


def _offsets(tables: Sequence[TermTable]) -> list[int]:
    sizes = [len(table.codes) for table in tables]
    return [sum(sizes[:i]) for i in range(len(sizes))]


def term_hashes(terms: Sequence[str]) -> np.ndarray:
    """Stable 64-bit hashes of terms (stems, as strings) for story vectors: the same in every process and run.

    Not the term ids of `corpus.tokens`: the story vectors (and the thread tests' expectations) were set
    on these, and the columns two terms share by chance move threads made of few articles."""
    try:
        return np.fromiter(map(_HASHES.__getitem__, terms), dtype=np.uint64, count=len(terms))
    except KeyError:
        if len(_HASHES) > _HASHES_KEPT:
            _HASHES.clear()
        for term in {term for term in set(terms) if term not in _HASHES}:  # each new term once
            _HASHES[term] = int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")
        return np.fromiter(map(_HASHES.__getitem__, terms), dtype=np.uint64, count=len(terms))


_HASHES: dict[str, int] = {}
_HASHES_KEPT = 2_000_000
"""Terms whose hashes are kept between calls (a plain dict: looking up is most of the work)."""
