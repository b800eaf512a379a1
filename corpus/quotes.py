"""Quoted statements and who made them.

Quote marks are paired in order of appearance within a paragraph, whatever their shape, so
reversed (”…“) and mismatched ("…”) pairs are found as well as “…”, «…» and ‘…’. The speaker
is taken from a speech verb just before the quote («قال ووستر», «يعتقد ووستر أن», "said
Smith") or, in English, just after it ("…," Smith said). A verb with no subject («وأضاف:»)
takes the speaker named in the paragraph before. `speaker_names` tells the names in a speaker
from the title or role around them, so two outlets that name one speaker differently («وزير
المالية», «الوزير») are not taken for two people.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from corpus.text import DOUBLE_QUOTE_MARKS, SINGLE_QUOTE_MARKS, STOPWORDS, fold

MIN_QUOTE_WORDS = 5
_SPEAKER_LOOKBACK_CHARS = 160
_MAX_NAME_WORDS = 4

_SPEECH_VERBS = frozenset(
    fold(v)
    for v in [
        "قال",
        "قالت",
        "يقول",
        "تقول",
        "قائلا",
        "قائلة",
        "أضاف",
        "أضافت",
        "يضيف",
        "تضيف",
        "تابع",
        "تابعت",
        "أكد",
        "أكدت",
        "يؤكد",
        "تؤكد",
        "أوضح",
        "أوضحت",
        "يوضح",
        "صرح",
        "صرحت",
        "يصرح",
        "أشار",
        "أشارت",
        "يشير",
        "يعتقد",
        "تعتقد",
        "اعتبر",
        "اعتبرت",
        "يعتبر",
        "ذكر",
        "ذكرت",
        "يذكر",
        "كتب",
        "كتبت",
        "شدد",
        "شددت",
        "يشدد",
        "لفت",
        "لفتت",
        "بين",
        "بينت",
        "أعلن",
        "أعلنت",
        "يعلن",
        "رأى",
        "رأت",
        "يرى",
        "اختتم",
        "ختم",
        "أعرب",
        "أعربت",
        "أفاد",
        "أفادت",
        "نقل",
        "نقلت",
        "حذر",
        "حذرت",
        "يحذر",
        "طالب",
        "طالبت",
        "دعا",
        "دعت",
        "قالوا",
        "أكدوا",
        "أضافوا",
        "اعترف",
        "اعترفت",
        "كشف",
        "كشفت",
        "said",
        "says",
        "say",
        "told",
        "tells",
        "added",
        "adds",
        "stated",
        "states",
        "asked",
        "replied",
        "wrote",
        "argued",
        "noted",
        "declared",
        "insisted",
        "warned",
        "explained",
        "claimed",
        "according",
    ]
)

_TIME_WORDS = frozenset(
    fold(w)
    for w in [
        "السبت",
        "الأحد",
        "الاحد",
        "الاثنين",
        "الإثنين",
        "الثلاثاء",
        "الأربعاء",
        "الاربعاء",
        "الخميس",
        "الجمعة",
        "اليوم",
        "أمس",
        "امس",
        "صباح",
        "مساء",
        "ليلة",
        "الماضي",
        "الماضية",
        "أيضا",
        "أيضاً",
        "ايضا",
        "قائلا",
        "قائلة",
        "بالقول",
        "مؤخرا",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "today",
        "yesterday",
        "also",
        "on",
    ]
)
_SUBORDINATORS = frozenset(fold(w) for w in ["أن", "إن", "ان", "بأن", "بان", "that"])

_TOKEN = re.compile(r"\S+")
_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")
_SENTENCE_BREAK = re.compile(r"[.!?\u061f]\s")


@dataclass(frozen=True)
class QuoteSpan:
    """A quoted statement found in one paragraph: offsets of its inner text and its speaker."""

    start: int
    end: int
    speaker: str | None


def _is_apostrophe(text: str, position: int) -> bool:
    before = text[position - 1] if position > 0 else " "
    after = text[position + 1] if position + 1 < len(text) else " "
    return before.isalpha() and after.isalpha()


_DOUBLE_MARK = re.compile("[" + re.escape(DOUBLE_QUOTE_MARKS) + "]")
_SINGLE_MARK = re.compile("[" + re.escape(SINGLE_QUOTE_MARKS) + "]")
_ANY_MARK = re.compile("[" + re.escape(DOUBLE_QUOTE_MARKS + SINGLE_QUOTE_MARKS) + "]")


def _pair_positions(positions: list[int], end: int) -> list[tuple[int, int]]:
    pairs = list(zip(positions[0::2], positions[1::2], strict=False))
    if len(positions) % 2:
        pairs.append((positions[-1], end))
    return pairs


def _pair_marks(paragraph: str) -> list[tuple[int, int]]:
    """(open, close) positions of paired quote marks; an unclosed last mark runs to the end."""
    pairs = _pair_positions([m.start() for m in _DOUBLE_MARK.finditer(paragraph)], len(paragraph))
    # single marks count only outside double-quoted text and when they are not apostrophes
    singles = [
        m.start()
        for m in _SINGLE_MARK.finditer(paragraph)
        if not _is_apostrophe(paragraph, m.start()) and not any(a < m.start() < b for a, b in pairs)
    ]
    return sorted(pairs + _pair_positions(singles, len(paragraph)))


def _clean(token: str) -> str:
    return _EDGE_PUNCT.sub("", token)


@lru_cache(maxsize=200_000)
def _is_verb(token: str) -> bool:
    """True when a token of original text is a speech verb («قال», «وأضاف», "said")."""
    token = _clean(fold(token))
    if token in _SPEECH_VERBS:
        return True
    return token[:1] in ("و", "ف") and token[1:] in _SPEECH_VERBS


def _is_function_word(folded: str) -> bool:
    return folded in STOPWORDS or (folded[:1] in ("و", "ف", "ب", "ل") and folded[1:] in STOPWORDS)


def _name_after_verb(tokens: list[str]) -> str | None:
    """The speaker named by the tokens between a speech verb and the quote or «أن».

    The phrase is cut into comma-separated segments; a segment that opens with a function
    word (a preposition: «في مؤتمر», «عن أشخاص») is an adjunct, and a segment is cut at its
    first function word («مبعوث الخاص إلى سوريا» keeps «مبعوث الخاص»). The last short
    segment left is the name: «مبعوث …، جيمس جيفري، الخميس» gives «جيمس جيفري».
    """
    segments: list[list[str]] = [[]]
    closed = [False]
    for token in tokens:
        folded = _clean(fold(token))
        if folded in _SUBORDINATORS:
            break
        if folded and not closed[-1]:
            if _is_function_word(folded):
                closed[-1] = True
            elif folded not in _TIME_WORDS and not folded.isdigit():
                segments[-1].append(_clean(token))
        if re.search(r"[,\u060c:]$", token):
            segments.append([])
            closed.append(False)
    named = [segment for segment in segments if segment]
    if not named:
        return None
    short = [segment for segment in named if len(segment) <= _MAX_NAME_WORDS]
    chosen = short[-1] if short else named[-1][-2:]
    return " ".join(chosen)


def _name_before_verb(tokens: list[str]) -> str | None:
    """Subject-first attribution: «المسؤول الأمريكي صرح …» gives «المسؤول الأمريكي»."""
    name: list[str] = []
    for token in reversed(tokens[-_MAX_NAME_WORDS:]):
        folded = _clean(fold(token))
        if not folded or _is_function_word(folded) or _is_verb(folded):
            break
        if re.search(r"[,\u060c:.]$", token):
            break
        name.insert(0, _clean(token))
    return " ".join(name) or None


def speaker_before(text: str) -> tuple[bool, str | None]:
    """(verb found, speaker) for the text that leads up to a quote or a reported statement."""
    tokens = _TOKEN.findall(text)
    for index in range(len(tokens) - 1, -1, -1):
        if _is_verb(tokens[index]):
            name = _name_after_verb(tokens[index + 1 :]) or _name_before_verb(tokens[:index])
            return True, name
    return False, None


def _speaker_after(text: str) -> str | None:
    """English attribution after the quote: `, Smith said` or `, said Jane Smith`."""
    tokens = [_clean(t) for t in _TOKEN.findall(text[:80])]
    tokens = [t for t in tokens if t]
    for index, token in enumerate(tokens[:6]):
        if _is_verb(token):
            before = [t for t in tokens[:index] if fold(t) not in STOPWORDS]
            if before and before[0][:1].isupper():
                return " ".join(before[:_MAX_NAME_WORDS])
            after = [t for t in tokens[index + 1 : index + 1 + _MAX_NAME_WORDS] if t[:1].isupper()]
            return " ".join(after) or None
    return None


def find_quotes(paragraph: str, previous_speaker: str | None | Callable[[], str | None] = None) -> list[QuoteSpan]:
    """Quoted statements of at least five words in one paragraph, with their speakers.

    `previous_speaker` (a name, or a function giving it only when needed) is who the
    paragraph before named: a quote after a verb with no subject is theirs.
    """
    found: list[QuoteSpan] = []
    if _ANY_MARK.search(paragraph) is None:  # most paragraphs quote no one: say so at C speed
        return found
    last_end = 0
    for open_at, close_at in _pair_marks(paragraph):
        inner_start, inner_end = open_at + 1, close_at
        inner = paragraph[inner_start:inner_end]
        if len(re.findall(r"\w+", inner)) < MIN_QUOTE_WORDS:
            last_end = close_at + 1
            continue
        lead_from = max(last_end, open_at - _SPEAKER_LOOKBACK_CHARS)
        lead = paragraph[lead_from:open_at]
        breaks = list(_SENTENCE_BREAK.finditer(lead))
        if breaks:
            lead = lead[breaks[-1].end() :]
        has_verb, speaker = speaker_before(lead)
        if speaker is None and not has_verb:
            speaker = _speaker_after(paragraph[close_at + 1 :])
        if speaker is None and has_verb:
            speaker = previous_speaker() if callable(previous_speaker) else previous_speaker
        stripped_start = inner_start + (len(inner) - len(inner.lstrip()))
        stripped_end = inner_end - (len(inner) - len(inner.rstrip()))
        found.append(QuoteSpan(stripped_start, stripped_end, speaker))
        last_end = close_at + 1
    return found


def named_speaker(paragraph: str) -> str | None:
    """The speaker a paragraph names with a speech verb, to carry into the next paragraph."""
    for match in _TOKEN.finditer(paragraph):
        if _is_verb(match.group()):
            phrase = paragraph[match.end() : match.end() + 120]
            stop = re.search(r"[\"\u201c\u201d\u00ab\u00bb.]", phrase)
            name = _name_after_verb(_TOKEN.findall(phrase[: stop.start()] if stop else phrase))
            name = name or _name_before_verb(_TOKEN.findall(paragraph[: match.start()]))
            if name:
                return name
    return None


# fmt: off
ROLE_WORDS = frozenset(
    fold(w)
    for w in [
        # titles and roles that name no one (folded, without the article): who holds them varies by story
        "وزير", "وزيرة", "وزراء", "رئيس", "رئيسة", "متحدث", "متحدثة", "ناطق", "ناطقة", "مسؤول", "مسؤولة",
        "مسؤولون", "مصدر", "مصادر", "مستشار", "مستشارة", "سفير", "سفيرة", "مبعوث", "مبعوثة", "مدير", "مديرة",
        "قائد", "زعيم", "نائب", "نائبة", "أمين", "عام", "باسم", "مندوب", "محافظ", "عضو", "ممثل", "وكيل", "سكرتير",
        "بيان", "مكتب", "حكومة", "وزارة", "د",
        "minister", "president", "prime", "spokesman", "spokeswoman", "spokesperson", "secretary", "official",
        "officials", "source", "sources", "chief", "director", "governor", "mayor", "senator", "ambassador",
        "envoy", "general", "deputy", "foreign", "finance", "defence", "defense", "interior", "state", "head",
        "leader", "chairman", "chairwoman", "executive", "ministry", "government", "department", "office",
        "mr", "mrs", "ms", "dr", "sir", "the", "a", "an", "of", "for", "and",
    ]
)
# fmt: on


def speaker_names(speaker: str) -> set[str]:
    """The folded words of `speaker` that name a person, not a title or role.

    Arabic has no capitals: a word with the article («المالية», «الأمريكي») or a role word is not
    a name; in Latin script a name starts with a capital. A speaker given only by role has none.
    """
    names = set()
    for token in speaker.split():
        word = _clean(token)
        folded = fold(word)
        if len(folded) < 2 or folded in ROLE_WORDS or _is_function_word(folded):
            continue
        if word.isascii():
            if word[:1].isupper():
                names.add(folded)
        elif not folded.startswith("ال"):
            names.add(folded)
    return names
