"""The matching form of text: Arabic variants and typographic variants folded together.

Reports always show the original text; everything that compares text compares the folded
form produced here, so that «أعلن» and «اعلن», “…” and "…", ٢٠٢٠ and 2020 are the same.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

_DELETE = (
    [chr(c) for c in range(0x0610, 0x061B)]  # Quranic annotation signs
    + [chr(c) for c in range(0x064B, 0x0660)]  # harakat, tanwin, shadda, sukun
    + ["\u0670"]  # superscript alef
    + [chr(c) for c in range(0x06D6, 0x06EE)]  # small high marks
    + ["\u0640"]  # tatweel
    + ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2066", "\u2067", "\u2068", "\u2069"]
    + ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\ufeff", "\u00ad"]
)

_REPLACE = {
    # alef and hamza carriers
    "\u0623": "\u0627",  # أ
    "\u0625": "\u0627",  # إ
    "\u0622": "\u0627",  # آ
    "\u0671": "\u0627",  # ٱ
    "\u0624": "\u0648",  # ؤ -> و
    "\u0626": "\u064a",  # ئ -> ي
    "\u0649": "\u064a",  # ى -> ي
    "\u0629": "\u0647",  # ة -> ه
    "\u06a9": "\u0643",  # Persian kaf
    "\u06cc": "\u064a",  # Persian yeh
    # punctuation
    "\u060c": ",",  # ،
    "\u061b": ";",  # ؛
    "\u061f": "?",  # ؟
    "\u066a": "%",
    "\u066b": ".",
    "\u066c": ",",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u2026": ".",  # … (one character, so offsets stay one-to-one)
}
for _quote in "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\uff02\u275d\u275e":
    _REPLACE[_quote] = '"'
for _quote in "\u2018\u2019\u201a\u201b\u2039\u203a\u0060\u00b4":
    _REPLACE[_quote] = "'"
for _dash in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2e3a\u2e3b":
    _REPLACE[_dash] = "-"
for _digit in range(10):
    _REPLACE[chr(0x0660 + _digit)] = str(_digit)  # Arabic-Indic
    _REPLACE[chr(0x06F0 + _digit)] = str(_digit)  # Extended (Persian) Arabic-Indic

_TABLE = str.maketrans({**{c: None for c in _DELETE}, **_REPLACE})
_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufeff]")

DOUBLE_QUOTE_MARKS = '"\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\uff02'
SINGLE_QUOTE_MARKS = "\u2018\u2019\u201a\u201b\u2039\u203a"


def fold(text: str) -> str:
    """Return the matching form of `text`: Arabic and typographic variants folded, lower case.

    Folding never raises and is idempotent: ``fold(fold(t)) == fold(t)``.
    """
    if _PRESENTATION_FORMS.search(text):
        text = unicodedata.normalize("NFKC", text)
    return text.translate(_TABLE).lower()


_WORD = re.compile(r"\w+", re.UNICODE)

_RAW_STOPWORDS = """
في من على إلى الى عن مع هذا هذه ذلك تلك التي الذي الذين اللذان اللتان اللاتي ما ماذا لا لم لن
قد كان كانت يكون تكون كانوا أو او ثم كل بين حتى إذا اذا عند بعد قبل أن إن ان أنه انه أنها إنه إنها
لكن لكن لأن لان هو هي هم هن هما نحن أنا انا أنت انت له لها لهم به بها بهم فيه فيها منه منها عليه عليها
إليه اليه و ف ب ل ك هناك هنا حيث كما أيضا ايضا أي اي غير أكثر اكثر بعض عدة خلال منذ عبر ضد نحو لدى
وقد وكان وكانت وهو وهي وفي ومن وعلى وإلى والى وأن وان ولا ولم وما كذلك ذاته نفسه يوم أمس اليوم
the a an of to in on at for from by with and or but is are was were be been being it its this that
these those as not no he she they we you i his her their our your has have had will would can could
said says also than then there here which who whom whose what when where why how about into over after
before between during under more most other some such only own same so very just
"""

STOPWORDS: frozenset[str] = frozenset(fold(w) for w in _RAW_STOPWORDS.split())

_ARTICLES = ("وال", "فال", "بال", "كال", "لل", "ال")


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Light, rule-based stem of a folded token, for matching only.

    Conjunctions (و, ف), the article (ال and its combinations) and the prepositions ب, ل, ك
    are removed, plus a few common suffixes. «و» and «ف» are stripped before and after the
    article, so «وزارة», «الوزارة» and «والوزارة» share a stem even where «و» belongs to the
    root: what matters is that variants agree, not that the stem is a dictionary root.
    """
    token = _strip_conjunction(token)
    for article in _ARTICLES:
        if token.startswith(article) and len(token) - len(article) >= 2:
            token = token[len(article) :]
            break
    else:
        if token[:1] in ("ب", "ل", "ك") and len(token) >= 4:
            token = token[1:]
    token = _strip_conjunction(token)
    if len(token) >= 5 and token.endswith(("ات", "ون", "ين", "ها", "هم")):
        token = token[:-2]
    elif len(token) >= 4 and token.endswith(("ه", "ي")):
        token = token[:-1]
    return token


def _strip_conjunction(token: str) -> str:
    return token[1:] if token[:1] in ("و", "ف") and len(token) >= 4 else token


def words(folded: str) -> list[str]:
    """All word tokens of a folded text, in order."""
    return _WORD.findall(folded)


def content_terms(folded: str) -> list[str]:
    """Stemmed tokens of a folded text with function words, single characters and junk (`is_junk`) removed."""
    if _LONG_TOKEN.search(folded) is not None:
        folded = " ".join(token for token in folded.split() if not is_junk(token))
    return [
        stem(token)
        for token in _WORD.findall(folded)
        if token not in STOPWORDS and len(token) > 1 and not token.isdigit()
    ]


MAX_WORD_CHARS = 64
"""A run of more characters than this without a space is not a word: a binary or encoded blob, a URL's query, a
line of one letter held down. It is not indexed, compared, counted or shown in a label."""
_LONG_TOKEN = re.compile(r"(?<!\S)\S{24,}")  # the lookbehind starts a match only where a token starts
_ENCODED_CHARS = re.compile(r"[A-Za-z0-9+/_=-]+")


def is_junk(token: str) -> bool:
    """Whether a whitespace-delimited token is no word: longer than `MAX_WORD_CHARS`, or an encoded blob (24
    or more characters of base64 or hexadecimal, with letters and digits mixed as no word mixes them)."""
    if len(token) > MAX_WORD_CHARS:
        return True
    if len(token) < 24 or _ENCODED_CHARS.fullmatch(token) is None:
        return False
    digits = sum(c.isdigit() for c in token)
    return digits >= 2 and sum(c.isalpha() for c in token) >= 2


def junk_chars(text: str) -> int:
    """The characters of `text` in tokens that are no words (`is_junk`)."""
    return sum(len(token) for token in _LONG_TOKEN.findall(text) if is_junk(token))


_TOKEN = re.compile(r"\S+")

Value = TypeVar("Value")


class Memo(dict[str, Value]):
    """A dict that computes a missing entry with `compute` and holds at most `limit` entries.

    The loops over every word of a corpus look words up as `memo.__getitem__` (for instance
    in `map`): half the cost of calling an `lru_cache` function, and they do it millions of times.
    """

    def __init__(self, compute: Callable[[str], Value], limit: int = 500_000) -> None:
        super().__init__()
        self.compute = compute
        self.limit = limit

    def __missing__(self, key: str) -> Value:
        if len(self) >= self.limit:
            self.clear()
        value = self[key] = self.compute(key)
        return value


def _content_terms_of_token(token: str) -> tuple[str, ...]:
    return () if is_junk(token) else tuple(content_terms(fold(token)))


TOKEN_TERMS: Memo[tuple[str, ...]] = Memo(_content_terms_of_token)
"""Token of original text -> its content terms (see `token_terms`), for loops over many words."""


def token_terms(token: str) -> tuple[str, ...]:
    """Content terms of one whitespace-delimited token of original text (usually zero or one)."""
    return TOKEN_TERMS[token]


def term_positions(text: str, offset: int = 0) -> list[tuple[str, int, int]]:
    """(content term, start, end) for each content word of original `text`.

    Offsets are those of the word in `text` (plus `offset`), so a run of matched terms maps
    back to the original wording.
    """
    return [
        (term, offset + match.start(), offset + match.end())
        for match in _TOKEN.finditer(text)
        for term in token_terms(match.group())
    ]
