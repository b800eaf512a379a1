"""The compiled loop of the lexical encoder: hashed character n-grams of each text, counted and signed.

numba compiles it on first use and caches the machine code beside this file, so later runs
load it in milliseconds. The result is the same, bit for bit, as the vectorised numpy
definition the encoder's vectors were first stored with (`tests/test_encoders.py` holds it):
n-grams are summed in the same order, in the same precision.
"""

from __future__ import annotations

import numpy as np
from numba import njit

HASH_BITS = 41
"""Bits of an n-gram hash kept for counting; the sign (bit 40) and the bucket (low bits) are among them."""

_MULTIPLIER = np.uint64(1_000_003)
_MASK = np.uint64((1 << HASH_BITS) - 1)
_SPACE = np.uint64(32)


@njit(cache=True, nogil=True)
def mix(h: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """splitmix64 finaliser: spreads the n-gram hash over all bits before bucketing."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@njit(cache=True, nogil=True)
def hashed_ngram_sums(
    codes: np.ndarray, bounds: np.ndarray, ngram_sizes: np.ndarray, dim: int
) -> np.ndarray:  # pragma: no cover - compiled
    """Row i: for each distinct n-gram of text i (code points `codes[bounds[i]:bounds[i + 1]]`) that
    spans no space inside it, ±(1 + log count) added at its hash's bucket; float64, not normalised.

    Each text is padded with spaces by the caller, so an n-gram may start or end at a word's edge.
    """
    rows = len(bounds) - 1
    out = np.zeros((rows, dim), dtype=np.float64)
    longest = 0
    for row in range(rows):
        longest = max(longest, bounds[row + 1] - bounds[row])
    hashes = np.empty(longest * len(ngram_sizes), dtype=np.uint64)
    for row in range(rows):
        start, end = bounds[row], bounds[row + 1]
        found = 0
        for n in ngram_sizes:
            for i in range(start, end - n + 1):
                spans_a_space = False
                for k in range(1, n - 1):
                    if codes[i + k] == _SPACE:
                        spans_a_space = True
                        break
                if spans_a_space:
                    continue
                h = np.uint64(n)
                for k in range(n):
                    h = (h * _MULTIPLIER) ^ codes[i + k]
                hashes[found] = mix(h) & _MASK
                found += 1
        ordered = np.sort(hashes[:found])
        i = 0
        while i < found:
            j = i + 1
            while j < found and ordered[j] == ordered[i]:
                j += 1
            value = ordered[i]
            weight = np.float32(1.0 + np.log(np.float64(j - i)))
            sign = np.float32(1.0) if (value >> np.uint64(40)) & np.uint64(1) else np.float32(-1.0)
            out[row, np.int64(value % np.uint64(dim))] += np.float64(weight * sign)
            i = j
    return out


@njit(cache=True, nogil=True)
def term_ngram_hashes(
    codes: np.ndarray, bounds: np.ndarray, ngram_sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """For each term (its stem's code points `codes[bounds[i]:bounds[i + 1]]`), the hashes `hashed_ngram_sums`
    gives the n-grams of the term padded with a space either side: a text's n-grams are its terms' together."""
    terms = len(bounds) - 1
    total = 0
    for term in range(terms):
        length = bounds[term + 1] - bounds[term] + 2
        for n in ngram_sizes:
            total += max(0, length - n + 1)
    hashes = np.empty(total, dtype=np.uint64)
    starts = np.zeros(terms + 1, dtype=np.int64)
    padded = np.empty(256 + 2, dtype=np.uint32)
    found = 0
    for term in range(terms):
        length = min(bounds[term + 1] - bounds[term], 256)
        padded[0] = 32
        for k in range(length):
            padded[k + 1] = codes[bounds[term] + k]
        padded[length + 1] = 32
        size = length + 2
        for n in ngram_sizes:
            for i in range(0, size - n + 1):
                h = np.uint64(n)
                for k in range(n):
                    h = (h * _MULTIPLIER) ^ np.uint64(padded[i + k])
                hashes[found] = mix(h) & _MASK
                found += 1
        starts[term + 1] = found
    return hashes[:found], starts


@njit(cache=True, nogil=True)
def term_ngram_sums(
    positions: np.ndarray, bounds: np.ndarray, hashes: np.ndarray, starts: np.ndarray, dim: int
) -> np.ndarray:  # pragma: no cover - compiled
    """Row i: `hashed_ngram_sums` of the text whose terms are `positions[bounds[i]:bounds[i + 1]]` (rows of the
    per-term n-gram hashes `hashes`, `starts`, see `term_ngram_hashes`), counted and signed the same way.

    Each distinct n-gram is counted in an open-addressing table (not by sorting the row's n-grams): the order
    in which they are then added does not change a bit of the result, since every addend is a float32 of
    magnitude below 16 and their float64 sums, far under 2**26 of them, are exact.
    """
    rows = len(bounds) - 1
    out = np.zeros((rows, dim), dtype=np.float64)
    longest = 0
    for row in range(rows):
        size = 0
        for p in range(bounds[row], bounds[row + 1]):
            term = positions[p]
            size += starts[term + 1] - starts[term]
        longest = max(longest, size)
    capacity = 16
    while capacity < 2 * longest:
        capacity *= 2
    keys = np.zeros(capacity, dtype=np.uint64)
    counts = np.zeros(capacity, dtype=np.int64)
    used = np.empty(capacity, dtype=np.int64)
    for row in range(rows):
        size = 0
        for p in range(bounds[row], bounds[row + 1]):
            term = positions[p]
            size += starts[term + 1] - starts[term]
        mask = 16
        while mask < 2 * size:
            mask *= 2
        mask -= 1
        distinct = 0
        for p in range(bounds[row], bounds[row + 1]):
            term = positions[p]
            for k in range(starts[term], starts[term + 1]):
                value = hashes[k]
                slot = np.int64((value ^ (value >> np.uint64(17))) & np.uint64(mask))
                while counts[slot] and keys[slot] != value:
                    slot = (slot + 1) & mask
                if counts[slot] == 0:
                    keys[slot] = value
                    used[distinct] = slot
                    distinct += 1
                counts[slot] += 1
        for d in range(distinct):
            slot = used[d]
            value = keys[slot]
            weight = np.float32(1.0 + np.log(np.float64(counts[slot])))
            sign = np.float32(1.0) if (value >> np.uint64(40)) & np.uint64(1) else np.float32(-1.0)
            out[row, np.int64(value % np.uint64(dim))] += np.float64(weight * sign)
            counts[slot] = 0
    return out
