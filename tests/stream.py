"""A synthetic news stream for the nightly tests: stories with their own vocabulary, night by night."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from corpus.article import Article

COMMON = [
    "the",
    "a",
    "of",
    "to",
    "in",
    "and",
    "said",
    "on",
    "for",
    "with",
    "at",
    "by",
    "from",
    "after",
    "over",
    "their",
    "has",
    "was",
    "were",
    "will",
]


def vocabulary(seed: int, size: int = 120) -> list[str]:
    """Pseudo-words of one story, the same for the same seed."""
    rng = random.Random(seed)
    letters = "bcdfghjklmnprstvz"
    vowels = "aeiou"
    return ["".join(rng.choice(letters) + rng.choice(vowels) for _ in range(rng.randint(2, 4))) for _ in range(size)]


def article(article_id: str, words: list[str], published: datetime, seed: int) -> Article:
    """An article of four paragraphs drawing 70% of its words from `words`, the rest common words."""
    rng = random.Random(seed)

    def sentence(length: int) -> str:
        return " ".join(rng.choice(words) if rng.random() < 0.7 else rng.choice(COMMON) for _ in range(length))

    paragraphs = [sentence(rng.randint(25, 40)) + "." for _ in range(4)]
    return Article(
        id=article_id,
        title=sentence(7),
        text="\n\n".join(paragraphs),
        published_at=published,
        source=f"outlet-{seed % 3}",
    )


def night(start: datetime, day: int) -> datetime:
    """The publication time of articles of night `day`."""
    return start + timedelta(days=day, hours=20)
