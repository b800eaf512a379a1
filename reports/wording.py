"""Counts in words that agree in number."""

from __future__ import annotations


def counted(count: int, noun: str) -> str:
    """`count` and `noun`, agreeing in number: "1 article", "3 articles"."""
    return f"{count} {plural(count, noun)}"


def plural(count: int, noun: str) -> str:
    """`noun` as `count` of it asks: "article" for 1, "articles" otherwise."""
    return noun if count == 1 else noun + "s"
