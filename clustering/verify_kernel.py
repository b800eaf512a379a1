"""Verification of candidate passage pairs in compiled code: the rules of `clustering.duplicates._match_terms` over
arrays of term numbers, with sets kept as stamps in arrays the size of the night's vocabulary.

One call verifies a chunk of candidates. Each passage is a slice `flat[first[i]:last[i]]` of term numbers;
`owner[i]` is its article, whose passages are consecutive; a passage's neighbourhood is itself and the
`reach` passages either side in its article. The result says, per candidate, how it matched (`NONE`,
`DENSE`, `ORDERED`, `WHOLE`) and with what figures, as `_match_terms` returns them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NONE, DENSE, ORDERED, WHOLE = 0, 1, 2, 3
ROUNDING = 1e-9


@njit(cache=True, nogil=True)
def _dense_region(
    flat: np.ndarray, start: int, end: int, marks: np.ndarray, stamp: int, weights: np.ndarray, density: float
) -> tuple[float, int, int]:  # pragma: no cover - compiled
    """`clustering.verify.dense_region` of `flat[start:end]` against the terms marked `stamp` in `marks`."""
    best = 0.0
    current = 0.0
    best_strength = 0.0
    current_strength = 0.0
    best_first = 0
    best_last = 0
    current_first = 0
    for index in range(end - start):
        term = flat[start + index]
        weight = weights[term]
        if marks[term] == stamp:
            current += (1.0 - density) * weight
            current_strength += weight
        else:
            current -= density * weight
        if current <= 0.0:
            current = 0.0
            current_strength = 0.0
            current_first = index + 1
        elif current > best:
            best = current
            best_strength = current_strength
            best_first = current_first
            best_last = index
    return best_strength, best_first, best_last


@njit(cache=True, nogil=True)
def _ordered_region(
    flat: np.ndarray,
    start_a: int,
    end_a: int,
    start_b: int,
    end_b: int,
    weights: np.ndarray,
    density: float,
    min_span: float,
    seen: np.ndarray,
) -> tuple[float, int, int, int, int]:  # pragma: no cover - compiled
    """`clustering.verify.ordered_region` of two passages (`seen`: a scratch array of stamps, all below 1)."""
    size_a, size_b = end_a - start_a, end_b - start_b
    rows = np.zeros((size_a + 1, size_b + 1))
    for i in range(size_a):
        term = flat[start_a + i]
        weight = weights[term]
        for j in range(size_b):
            if term == flat[start_b + j]:
                rows[i + 1, j + 1] = rows[i, j] + weight
            else:
                rows[i + 1, j + 1] = max(rows[i, j + 1], rows[i + 1, j])
    aligned_a = np.empty(min(size_a, size_b), dtype=np.int64)
    aligned_b = np.empty(min(size_a, size_b), dtype=np.int64)
    count = 0
    i, j = size_a, size_b
    while i and j:
        term = flat[start_a + i - 1]
        if term == flat[start_b + j - 1] and rows[i, j] == rows[i - 1, j - 1] + weights[term]:
            aligned_a[count] = i - 1
            aligned_b[count] = j - 1
            count += 1
            i -= 1
            j -= 1
        elif rows[i - 1, j] >= rows[i, j - 1]:
            i -= 1
        else:
            j -= 1
    aligned_a = aligned_a[:count][::-1]
    aligned_b = aligned_b[:count][::-1]
    span_a = np.zeros(size_a + 1)
    for i in range(size_a):
        span_a[i + 1] = span_a[i] + weights[flat[start_a + i]]
    span_b = np.zeros(size_b + 1)
    for j in range(size_b):
        span_b[j + 1] = span_b[j] + weights[flat[start_b + j]]
    best = 0.0
    best_first_a = best_last_a = best_first_b = best_last_b = -1
    for first in range(count):
        stamp = first + 1
        found = 0.0
        for last in range(first, count):
            term = flat[start_a + aligned_a[last]]
            if seen[term] != stamp:  # a word repeated in the run counts once
                seen[term] = stamp
                found += weights[term]
            if found <= best:
                continue
            lighter = min(
                span_a[aligned_a[last] + 1] - span_a[aligned_a[first]],
                span_b[aligned_b[last] + 1] - span_b[aligned_b[first]],
            )
            if found >= density * lighter and lighter >= min_span:
                best = found
                best_first_a, best_last_a = aligned_a[first], aligned_a[last]
                best_first_b, best_last_b = aligned_b[first], aligned_b[last]
    for first in range(count):  # the stamps go back below 1 for the next call
        seen[flat[start_a + aligned_a[first]]] = 0
    return best, best_first_a, best_last_a, best_first_b, best_last_b


@njit(cache=True, nogil=True)
def _mark(
    flat: np.ndarray, first: np.ndarray, last: np.ndarray, passage: int, marks: np.ndarray, stamp: int
) -> None:  # pragma: no cover - compiled
    for k in range(first[passage], last[passage]):
        marks[flat[k]] = stamp


@njit(cache=True, nogil=True)
def _mark_neighbourhood(
    flat: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    owner: np.ndarray,
    passage: int,
    reach: int,
    marks: np.ndarray,
    stamp: int,
) -> None:  # pragma: no cover - compiled
    for other in range(max(0, passage - reach), min(len(owner), passage + reach + 1)):
        if owner[other] == owner[passage]:
            _mark(flat, first, last, other, marks, stamp)


@njit(cache=True, nogil=True)
def verify_candidates(
    flat: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    owner: np.ndarray,
    weights: np.ndarray,
    article_weights: np.ndarray,
    lefts: np.ndarray,
    rights: np.ndarray,
    reach: int,
    settings: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Per candidate (`lefts[k]`, `rights[k]`): how it matched (`kinds`), its figures (overlap, strength, in_order)
    and the ends of its region on each side (first, last term on side a, then on side b; -1 when matched whole).

    `settings` holds, in order: min_strength, min_ordered_strength, min_density, min_overlap, min_longer_overlap,
    min_shared_terms, short_article, short_share, min_short_strength, short_density.
    """
    min_strength, min_ordered, min_density = settings[0], settings[1], settings[2]
    min_overlap, min_longer_overlap, min_shared = settings[3], settings[4], settings[5]
    short_article, short_share, min_short, short_density = settings[6], settings[7], settings[8], settings[9]
    terms = len(weights)
    marks = [np.zeros(terms, dtype=np.int64) for _ in range(4)]  # left set, right set, their neighbourhoods
    seen = np.zeros(terms, dtype=np.int64)
    count = len(lefts)
    kinds = np.zeros(count, dtype=np.int8)
    figures = np.zeros((count, 3))
    ends = np.full((count, 4), -1, dtype=np.int64)
    for k in range(count):
        left, right = lefts[k], rights[k]
        stamp = k + 1
        lighter_article = min(article_weights[owner[left]], article_weights[owner[right]])
        strength, ordered = min_strength, min_ordered
        fewest = 0
        if lighter_article < short_article:
            strength = max(min_short, min(min_strength, short_share * lighter_article))
            ordered = max(min_short, min(min_ordered, short_share * lighter_article))
            fewest = int(min_shared)
        _mark(flat, first, last, left, marks[0], stamp)
        _mark(flat, first, last, right, marks[1], stamp)
        size_left = size_right = shared = 0
        common_weight = 0.0
        for p in range(first[left], last[left]):
            term = flat[p]
            if marks[0][term] == stamp:
                marks[0][term] = -stamp  # counted: each distinct term once
                size_left += 1
                if marks[1][term] == stamp:
                    shared += 1
                    common_weight += weights[term]
        for p in range(first[left], last[left]):
            marks[0][flat[p]] = stamp
        for p in range(first[right], last[right]):
            term = flat[p]
            if marks[1][term] == stamp:
                marks[1][term] = -stamp
                size_right += 1
        for p in range(first[right], last[right]):
            marks[1][flat[p]] = stamp
        overlap = shared / min(size_left, size_right) if shared else 0.0
        total_left = 0.0
        for p in range(first[left], last[left]):
            total_left += weights[flat[p]]
        total_right = 0.0
        for p in range(first[right], last[right]):
            total_right += weights[flat[p]]
        lighter = min(total_left, total_right)
        if lighter >= strength:
            _mark_neighbourhood(flat, first, last, owner, right, reach, marks[3], stamp)
            strength_a, first_a, last_a = _dense_region(
                flat, first[left], last[left], marks[3], stamp, weights, min_density
            )
            if strength_a >= strength:
                _mark_neighbourhood(flat, first, last, owner, left, reach, marks[2], stamp)
                strength_b, first_b, last_b = _dense_region(
                    flat, first[right], last[right], marks[2], stamp, weights, min_density
                )
                if strength_b >= strength:
                    words = 0
                    for p in range(first[left] + first_a, first[left] + last_a + 1):
                        term = flat[p]
                        if marks[1][term] == stamp and seen[term] != -stamp:
                            seen[term] = -stamp
                            words += 1
                    for p in range(first[left] + first_a, first[left] + last_a + 1):
                        seen[flat[p]] = 0
                    if words >= fewest:
                        kinds[k] = DENSE
                        figures[k, 0], figures[k, 1] = overlap, min(strength_a, strength_b)
                        ends[k, 0], ends[k, 1], ends[k, 2], ends[k, 3] = first_a, last_a, first_b, last_b
                        continue
        if lighter >= ordered and common_weight >= ordered - ROUNDING:
            shared_left = 0.0
            for p in range(first[left], last[left]):
                if marks[1][flat[p]] == stamp:
                    shared_left += weights[flat[p]]
            shared_right = 0.0
            for p in range(first[right], last[right]):
                if marks[0][flat[p]] == stamp:
                    shared_right += weights[flat[p]]
            if shared_left >= ordered and shared_right >= ordered:
                density = short_density if fewest else min_density
                found, first_a, last_a, first_b, last_b = _ordered_region(
                    flat, first[left], last[left], first[right], last[right], weights, density, strength, seen
                )
                if found >= ordered:
                    words = 0
                    for p in range(first[left] + first_a, first[left] + last_a + 1):
                        term = flat[p]
                        if marks[1][term] == stamp and seen[term] != -stamp:
                            seen[term] = -stamp
                            words += 1
                    for p in range(first[left] + first_a, first[left] + last_a + 1):
                        seen[flat[p]] = 0
                    if words >= fewest:
                        kinds[k] = ORDERED
                        figures[k, 0], figures[k, 1], figures[k, 2] = overlap, found, found
                        ends[k, 0], ends[k, 1], ends[k, 2], ends[k, 3] = first_a, last_a, first_b, last_b
                        continue
        longer = max(size_left, size_right)
        if overlap >= min_overlap and shared >= min_shared and shared >= min_longer_overlap * longer:
            kinds[k] = WHOLE
            figures[k, 0], figures[k, 1] = overlap, common_weight
    return kinds, figures, ends


@njit(cache=True, nogil=True)
def shared_runs(
    ids: np.ndarray, other_ids: np.ndarray, starts: np.ndarray, ends: np.ndarray, start: int, end: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The start of the first and the end of the last word of each run of consecutive words (`ids`, with their
    `starts` and `ends`) of the text `start`..`end` that `other_ids` has too; a run that begins (ends) with the
    text's first (last) word takes the text before (after) it too (a passage whose words are all shared is covered
    whole)."""
    known = np.sort(other_ids)
    run_starts = np.empty(len(ids), dtype=np.int64)
    run_ends = np.empty(len(ids), dtype=np.int64)
    count = 0
    previous = -2
    for word in range(len(ids)):
        at = np.searchsorted(known, ids[word])
        if at == len(known) or known[at] != ids[word]:
            continue
        if word == previous + 1 and count:
            run_ends[count - 1] = ends[word]
        else:
            run_starts[count] = starts[word] if word else start
            run_ends[count] = ends[word]
            count += 1
        previous = word
    if count and previous == len(ids) - 1:
        run_ends[count - 1] = end
    return run_starts[:count], run_ends[:count]
