"""Site furniture: lines that are part of a web page, not of the reporting.

Four rules, each general rather than fitted to one site:
- a line made mostly of tokens that are no words (`corpus.text.is_junk`: encoded blobs, runs without spaces);
- a line made only of furniture phrases («مقالات ذات صلة», "Related articles", share and
  comment prompts, advertising labels, credit lines) or of numbers and punctuation
  (share counters);
- a line that starts with a comment-form or newsletter prompt;
- a line that one source repeats across several of its own articles.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from corpus.text import MAX_WORD_CHARS, fold, junk_chars

_FURNITURE_PHRASES = """
مقالات ذات صلة | مواضيع ذات صلة | أخبار ذات صلة | اخبار ذات صلة | اقرأ أيضا | اقرأ أيضاً | إقرأ أيضا
| اقرأ المزيد | المزيد | اترك تعليقا | اترك تعليقاً | أرسل تعليقك | اضف تعليق | أضف تعليق | تعليقك كزائر
| التعليقات | تعليقات | إعلان | اعلان | إعلانات | شارك | مشاركة | شارك المقال | شارك الخبر | انشر
| طباعة | إغلاق | اغلاق | زر الذهاب إلى الأعلى | الذهاب إلى الأعلى | تابعونا | تابعنا | اشترك
| المصدر | المصدر وكالات | وكالات | الأناضول | رويترز | فيسبوك | تويتر | واتساب | تيليجرام | يوتيوب
| related articles | related | read more | read also | more | advertisement | advert | sponsored
| share | share this | shares | total | tweet | comments | comment | leave a comment | leave a reply
| print | email | close | back to top | follow us | subscribe | sign up | newsletter | facebook
| twitter | whatsapp | linkedin | telegram | reddit | source | photo | image | video
"""

_FURNITURE: frozenset[str] = frozenset(
    " ".join(re.findall(r"\w+", fold(phrase))) for phrase in _FURNITURE_PHRASES.split("|")
)

_PROMPT_STARTS = tuple(
    fold(prefix)
    for prefix in (
        "لن يتم نشر عنوان بريدك",
        "الحقول الإلزامية مشار إليها",
        "يجب عليك تسجيل الدخول",
        "جميع الحقوق محفوظة",
        "اشترك في النشرة",
        "your email address will not be published",
        "you must be logged in",
        "all rights reserved",
        "copyright",
        "©",
        "sign up for",
        "subscribe to",
        "click here",
        "follow us on",
    )
)

_PROMPT_CHARS = 80
_FURNITURE_MAX_CHARS = 200
_REPEATS_NEEDED = 3
_REPEAT_MAX_WORDS = 40


def _key(line: str) -> str:
    return " ".join(re.findall(r"\w+", fold(line)))


def furniture_reason(line: str, junk: int | None = None) -> str | None:
    """Why `line` is site furniture on its own merits, or None if it may be reporting. `junk`: its characters in
    tokens that are no words (`corpus.text.junk_chars`), when already counted."""
    if len(line) >= 24 and (junk_chars(line) if junk is None else junk) * 2 >= len(line):
        return f"not text: runs of over {MAX_WORD_CHARS} characters without a space, or an encoded blob"
    if fold(line[:_PROMPT_CHARS]).strip().startswith(_PROMPT_STARTS):
        return "comment, copyright or subscription prompt"
    if len(line) > _FURNITURE_MAX_CHARS:
        return None  # phrases and counters are short; a long line is reporting
    words = _key(line).split()
    if not words or all(w.isdigit() for w in words):
        return "no words (counter or punctuation)"
    if len(words) <= 6 and _made_of_furniture(words):
        return "site furniture phrase"
    return None


def _made_of_furniture(words: list[str]) -> bool:
    """True when `words` split entirely into known furniture phrases and numbers."""
    reachable = [True] + [False] * len(words)
    for start in range(len(words)):
        if not reachable[start]:
            continue
        if words[start].isdigit():
            reachable[start + 1] = True
        for end in range(start + 1, len(words) + 1):
            if " ".join(words[start:end]) in _FURNITURE:
                reachable[end] = True
    return reachable[-1]


class RepeatedLines:
    """Lines that one source repeats across several of its articles (templates, footers)."""

    def __init__(self, counts: dict[str, Counter[str]] | None = None) -> None:
        self._counts: dict[str, Counter[str]] = defaultdict(Counter, counts or {})

    @staticmethod
    def key_of(line: str) -> str | None:
        """The line's comparison key (a hash of its folded words), None for lines too long to be a template."""
        if len(line.split()) > _REPEAT_MAX_WORDS:
            return None
        key = _key(line)
        return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16] if key else None

    def add(self, source: str | None, lines: list[str]) -> None:
        """Count the distinct short lines of one article of `source`."""
        if not source:
            return
        keys = {self.key_of(line) for line in lines}
        self._counts[source].update(k for k in keys if k)

    def add_keys(self, source: str | None, keys: Iterable[str | None]) -> None:
        """Count one article of `source` whose lines have these keys (`key_of`)."""
        if source:
            self._counts[source].update({k for k in keys if k})

    def is_repeated_key(self, source: str | None, key: str | None) -> bool:
        """`is_repeated` for a line given by its key."""
        return bool(source) and key is not None and self._counts[source][key] >= _REPEATS_NEEDED

    def add_counts(self, source: str, counts: dict[str, int]) -> None:
        """Add article counts per line key (as kept by the store) for `source`."""
        self._counts[source].update(counts)

    def is_repeated(self, source: str | None, line: str) -> bool:
        """True when `source` has this line in at least three of its articles."""
        key = self.key_of(line) if source else None
        return key is not None and self._counts[source][key] >= _REPEATS_NEEDED
