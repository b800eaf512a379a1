"""The language of a text, for articles whose input does not say it."""

from __future__ import annotations

from corpus.article import PreparedArticle

SAMPLE_CHARS = 1_000
"""Characters a language is told from: plenty for the identifier, and it costs about a millisecond."""


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of `text`'s language (py3langid, 97 languages), or None for text without letters."""
    sample = text[:SAMPLE_CHARS]
    if not any(c.isalpha() for c in sample):
        return None
    from py3langid import classify  # loads its model (NumPy arrays, no pickle) on first use, once

    language, _ = classify(sample)
    return str(language)


def language_of(article: PreparedArticle) -> str | None:
    """The language the input gave, else the one its reporting text is in."""
    if article.article.language:
        return article.article.language.lower()
    reporting = "\n".join(p.text for p in article.paragraphs if p.boilerplate is None)
    return detect_language(reporting or article.article.text)
