"""Cutting article text into paragraphs and into passages (whole paragraphs or windows)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_LINE = re.compile(r"[^\n\r]+")
_TOKEN = re.compile(r"\S+")
_SENTENCE_END_TOKEN = re.compile(r"[.!?\u061f\u2026\u06d4]+[\"'\u201d\u201c\u00bb)\]]*(?!\S)")
"""The end of a token that ends a sentence: its match ends where the token ends."""


@dataclass(frozen=True)
class WindowSettings:
    """How long paragraphs are cut into windows.

    A paragraph of at most `max_words` words is one passage. A longer one is cut into
    windows of about `window_words` words that start every `stride_words` words, moved to
    the nearest sentence start within `snap_words`, so reuse of a few sentences inside a long
    paragraph still lines up with a window of its own.
    """

    max_words: int = 70
    window_words: int = 45
    stride_words: int = 20
    snap_words: int = 6

    def __post_init__(self) -> None:
        if not 0 <= self.snap_words < self.stride_words <= self.window_words <= self.max_words:
            raise ValueError(
                "WindowSettings expects 0 <= snap_words < stride_words <= window_words <= "
                f"max_words, got snap_words={self.snap_words}, stride_words={self.stride_words}, "
                f"window_words={self.window_words}, max_words={self.max_words}"
            )


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each non-blank line of `text`, surrounding spaces trimmed."""
    spans = []
    for match in _LINE.finditer(text):
        line = match.group()
        stripped = line.strip()
        if not stripped:
            continue
        start = match.start() + (len(line) - len(line.lstrip()))
        spans.append((start, start + len(stripped)))
    return spans


def window_spans(text: str, start: int, end: int, settings: WindowSettings) -> list[tuple[int, int]]:
    """(start, end) offsets of the passages of the paragraph `text[start:end]`."""
    if len(text[start:end].split()) <= settings.max_words:  # most paragraphs: counted at C speed
        return [(start, end)]
    tokens = [m.span() for m in _TOKEN.finditer(text, start, end)]
    if len(tokens) <= settings.max_words:
        return [(start, end)]
    token_at_end = {token_end: index for index, (_, token_end) in enumerate(tokens)}
    sentence_starts = sorted(
        {0} | {token_at_end[m.end()] + 1 for m in _SENTENCE_END_TOKEN.finditer(text, start, end)} - {len(tokens)}
    )
    spans: list[tuple[int, int]] = []
    first = 0
    while True:
        snapped = _nearest(sentence_starts, first, settings.snap_words)
        last = min(snapped + settings.window_words, len(tokens)) - 1
        if len(tokens) - 1 - last < settings.stride_words // 2:
            last = len(tokens) - 1  # fold a short tail into the last window
        spans.append((tokens[snapped][0], tokens[last][1]))
        if last == len(tokens) - 1:
            return spans
        first = snapped + settings.stride_words


def _nearest(starts: list[int], position: int, reach: int) -> int:
    """The element of the sorted `starts` nearest to `position` within `reach` (the lower on a tie), else `position`."""
    lo, hi = bisect.bisect_left(starts, position - reach), bisect.bisect_right(starts, position + reach)
    if lo == hi:
        return position
    return min(starts[lo:hi], key=lambda s: (abs(s - position), s))
