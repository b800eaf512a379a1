"""Words shared by the report's formats: counts that agree in number, text cut short."""

from __future__ import annotations


def counted(count: int, noun: str) -> str:
    """`count` and `noun`, agreeing in number: "1 article", "3 articles"."""
    return f"{count} {plural(count, noun)}"


def shortened(text: str | None, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def plural(count: int, noun: str) -> str:
    """`noun` as `count` of it asks: "article" for 1, "articles" otherwise ("copy": "copies")."""
    if count == 1:
        return noun
    return noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
