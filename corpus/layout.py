"""Where the passages of a chunk of articles lie, in compiled code: each paragraph cut into windows
(`corpus.segment.window_spans`), each window kept only if it holds enough content terms.

The rules are those of `corpus.segment` (tested to agree window for window): a paragraph of at most
`max_words` whitespace-delimited tokens is one passage; a longer one is cut into windows of about
`window_words` tokens every `stride_words`, each moved to the nearest sentence start within `snap_words`
(the lower on a tie), a short tail folded into the last window. A token ends a sentence when, its closing
quotes and brackets aside, it ends in `.`, `!`, `?`, `؟`, `…` or `۔`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from corpus.segment import WindowSettings
from corpus.text import MAX_WORD_CHARS
from corpus.tokens import SPACE, _is_junk, character_tables

SENTENCE_ENDS = np.array(sorted(map(ord, ".!?\u061f\u2026\u06d4")), dtype=np.uint32)
CLOSERS = np.array(sorted(map(ord, "\"'\u201d\u201c\u00bb)]")), dtype=np.uint32)


@njit(cache=True, nogil=True)
def _contains(sorted_codes: np.ndarray, code: int) -> bool:  # pragma: no cover - compiled
    at = np.searchsorted(sorted_codes, code)
    return at < len(sorted_codes) and sorted_codes[at] == code


@njit(cache=True, nogil=True)
def _windows(
    codes: np.ndarray,
    base: int,
    start: int,
    end: int,
    classes: np.ndarray,
    sentence_ends: np.ndarray,
    closers: np.ndarray,
    max_words: int,
    window_words: int,
    stride: int,
    snap: int,
    out: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """The (start, end) windows of the paragraph `start`..`end` of the text at `base`, written into `out` (with the
    characters of its junk tokens, `corpus.text.is_junk`, in the first row's third column); how many."""
    token_starts = np.empty(end - start + 1, dtype=np.int64)
    token_ends = np.empty(end - start + 1, dtype=np.int64)
    count = 0
    junk = 0
    i = start
    while i < end:
        while i < end and classes[codes[base + i]] & SPACE:
            i += 1
        if i >= end:
            break
        token_starts[count] = i
        while i < end and not classes[codes[base + i]] & SPACE:
            i += 1
        token_ends[count] = i
        if _is_junk(codes, classes, base + token_starts[count], base + i, MAX_WORD_CHARS):
            junk += i - token_starts[count]
        count += 1
    out[0, 2] = junk
    if count <= max_words:
        out[0, 0], out[0, 1] = start, end
        return 1
    # sentence starts: 0 and the token after each sentence-ending token (but not past the last)
    starts = np.empty(count + 1, dtype=np.int64)
    starts[0] = 0
    found = 1
    for t in range(count):
        k = token_ends[t] - 1
        while k >= token_starts[t] and _contains(closers, codes[base + k]):
            k -= 1
        if k >= token_starts[t] and _contains(sentence_ends, codes[base + k]) and t + 1 < count:
            starts[found] = t + 1
            found += 1
    windows = 0
    first = 0
    while True:
        snapped = first
        best = -1
        for s in range(found):
            position = starts[s]
            gap = abs(position - first)
            if gap <= snap and (best < 0 or gap < abs(best - first) or (gap == abs(best - first) and position < best)):
                best = position
        if best >= 0:
            snapped = best
        last = min(snapped + window_words, count) - 1
        if count - 1 - last < stride // 2:
            last = count - 1
        out[windows, 0], out[windows, 1] = token_starts[snapped], token_ends[last]
        windows += 1
        if last == count - 1:
            return windows
        first = snapped + stride


@njit(cache=True, nogil=True)
def _layout(
    codes: np.ndarray,
    bounds: np.ndarray,
    paragraph_starts: np.ndarray,
    paragraph_ends: np.ndarray,
    paragraph_firsts: np.ndarray,
    term_starts: np.ndarray,
    term_ends: np.ndarray,
    term_firsts: np.ndarray,
    classes: np.ndarray,
    sentence_ends: np.ndarray,
    closers: np.ndarray,
    settings: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The windows of every paragraph of every text: starts, ends, terms inside, each paragraph's first window
    (one more than paragraphs), and each paragraph's characters of junk tokens."""
    max_words, window_words, stride, snap = settings[0], settings[1], settings[2], settings[3]
    paragraphs = len(paragraph_starts)
    capacity = paragraphs + len(codes) // max(1, stride) + 1
    starts = np.empty(capacity, dtype=np.int64)
    ends = np.empty(capacity, dtype=np.int64)
    inside = np.empty(capacity, dtype=np.int64)
    firsts = np.empty(paragraphs + 1, dtype=np.int64)
    junk = np.zeros(paragraphs, dtype=np.int64)
    scratch = np.empty((len(codes) // max(1, stride) + 2, 3), dtype=np.int64)
    count = 0
    for text in range(len(bounds) - 1):
        base = bounds[text]
        t0, t1 = term_firsts[text], term_firsts[text + 1]
        for p in range(paragraph_firsts[text], paragraph_firsts[text + 1]):
            firsts[p] = count
            start, end = paragraph_starts[p], paragraph_ends[p]
            sizes = (max_words, window_words, stride, snap)
            made = _windows(codes, base, start, end, classes, sentence_ends, closers, *sizes, scratch)
            junk[p] = scratch[0, 2]
            for w in range(made):
                start, end = scratch[w, 0], scratch[w, 1]
                # terms whose token lies inside the window (terms are sorted by start, their ends too)
                low = t0 + np.searchsorted(term_starts[t0:t1], start)
                high = t0 + np.searchsorted(term_ends[t0:t1], end, side="right")
                starts[count], ends[count], inside[count] = start, end, max(0, high - low)
                count += 1
    firsts[paragraphs] = count
    return starts[:count], ends[:count], inside[:count], firsts, junk


def chunk_windows(
    texts: Sequence[str],
    paragraphs: Sequence[Sequence[tuple[int, int]]],
    term_starts: np.ndarray,
    term_ends: np.ndarray,
    term_firsts: np.ndarray,
    settings: WindowSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every window of every paragraph of `texts` (`paragraphs[i]`: text i's spans): (starts, ends, content terms
    inside each, each paragraph's first window, paragraphs numbered text after text, and each paragraph's
    characters of junk tokens)."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    flat = [span for spans in paragraphs for span in spans]
    spans = np.array(flat, dtype=np.int64).reshape(-1, 2)
    counts = np.fromiter(map(len, paragraphs), dtype=np.int64, count=len(paragraphs))
    paragraph_firsts = np.concatenate(([0], np.cumsum(counts)))
    sizes = np.array([settings.max_words, settings.window_words, settings.stride_words, settings.snap_words])
    starts, ends, inside, firsts, junk = _layout(
        codes,
        bounds,
        np.ascontiguousarray(spans[:, 0]),
        np.ascontiguousarray(spans[:, 1]),
        paragraph_firsts,
        term_starts.astype(np.int64),
        term_ends.astype(np.int64),
        term_firsts.astype(np.int64),
        character_tables().classes,
        SENTENCE_ENDS,
        CLOSERS,
        sizes.astype(np.int64),
    )
    return starts, ends, inside, firsts, junk
