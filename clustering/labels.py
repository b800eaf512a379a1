"""Thread labels: each thread's top label terms by frequency times rarity in the window, shown as its titles write
them, for all of a night's threads in a few array steps.

1. A term's rarity is measured among the window's articles of its own language (`TermRarity`): a language's
   function words are in nearly every article of that language however few of the window's articles are in it.
   An article of unknown language, or of a language the window has no article in, is measured against the whole
   window.
2. A thread's term scores the sum over its members' languages of the term's frequency in those members times its
   IDF there, log(1 + articles / articles carrying it).
3. The label is the `count` best terms, ties by the term; the `previous` label is kept while each of its words is
   still among the thread's best `2 × count` terms.
4. A word is shown as the titles write it, without a clitic its titles also show it without («للأجور» as «الأجور»).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from corpus.arrays import distinct
from corpus.text import STOPWORDS, Memo, fold, stem, words


class _Numbering(dict[str, int]):
    """Numbers terms as they are first asked for."""

    def __missing__(self, term: str) -> int:
        number = self[term] = len(self)
        return number


class TermRarity:
    """How many articles of each language carry each label term, over a window; terms are numbered as they come
    (`vocabulary`)."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = _Numbering()
        self._language_numbers: dict[str | None, int] = {}
        self._articles: list[int] = []
        """Articles counted, by language number."""
        self._carrying: list[np.ndarray] = []
        """By language number, how many of its articles carry each term (by number; terms numbered later: none)."""
        self._table: np.ndarray | None = None

    def add(self, terms: Iterable[str], language: str | None = None) -> None:
        """Count one article with these label terms."""
        self.add_numbered(self.numbered([list(terms)]), [language])

    def numbered(self, articles: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Each article's terms as their numbers (terms never seen are numbered now)."""
        sizes = np.fromiter(map(len, articles), dtype=np.int64, count=len(articles))
        every = np.fromiter(
            map(self.vocabulary.__getitem__, itertools.chain.from_iterable(articles)),
            dtype=np.int32,
            count=int(sizes.sum()),
        )
        return np.split(every, np.cumsum(sizes)[:-1]) if len(articles) else []

    def add_numbered(self, articles: Sequence[np.ndarray], languages: Sequence[str | None]) -> None:
        """Count these articles: each its label terms' numbers (`numbered`), and its language."""
        if len(articles) != len(languages):
            raise ValueError(f"got {len(languages)} languages for {len(articles)} articles")
        if not articles:
            return
        numbers = [self._language_number(language) for language in languages]
        for number in numbers:
            self._articles[number] += 1
        self._table = None
        sizes = np.fromiter(map(len, articles), dtype=np.int64, count=len(articles))
        owners = np.repeat(np.arange(len(articles), dtype=np.int64), sizes)
        # an article counts once for each term it carries
        span = len(self.vocabulary)
        if not span:
            return
        carried = distinct(owners * span + np.concatenate(articles).astype(np.int64))
        language_of_pair, term_of_pair = np.asarray(numbers, dtype=np.int64)[carried // span], carried % span
        for number in set(numbers):
            counts = np.bincount(term_of_pair[language_of_pair == number], minlength=span)
            self._carrying[number] = _padded(self._carrying[number], span) + counts

    def idf_table(self) -> tuple[np.ndarray, dict[str | None, int]]:
        """IDF by language row and term column, and each counted language's row; the last row is the whole window's
        (for an unknown language)."""
        if self._table is None or self._table.shape[1] != len(self.vocabulary):
            size = len(self.vocabulary)
            carrying = np.zeros((len(self._carrying) + 1, size), dtype=np.float64)
            for number, counts in enumerate(self._carrying):
                carrying[number, : len(counts)] = counts
            carrying[-1] = carrying[:-1].sum(axis=0)
            articles = np.array([*self._articles, sum(self._articles)], dtype=np.float64)
            self._table = np.log(1 + articles[:, None] / np.maximum(carrying, 1))
        counted = self._language_numbers.items()
        return self._table, {language: n for language, n in counted if language is not None and self._articles[n]}

    def _language_number(self, language: str | None) -> int:
        number = self._language_numbers.get(language)
        if number is None:
            number = self._language_numbers[language] = len(self._articles)
            self._articles.append(0)
            self._carrying.append(np.zeros(0, dtype=np.int64))
        return number


def _padded(counts: np.ndarray, size: int) -> np.ndarray:
    """`counts` with zeros after it up to `size` entries."""
    return counts if len(counts) == size else np.concatenate([counts, np.zeros(size - len(counts), dtype=counts.dtype)])


@dataclass(frozen=True)
class ThreadMembers:
    """What a thread's label is made from: its members' titles, label terms (`TermRarity.numbered`) and languages
    (None: unknown)."""

    titles: Sequence[str]
    terms: Sequence[np.ndarray]
    languages: Sequence[str | None]

    def __post_init__(self) -> None:
        if not len(self.titles) == len(self.terms) == len(self.languages):
            raise ValueError(
                f"got {len(self.titles)} titles, {len(self.terms)} term lists and {len(self.languages)} languages"
            )


def thread_labels(
    threads: Mapping[str, ThreadMembers],
    rarity: TermRarity,
    count: int = 4,
    previous: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Each thread's label (see the module's rules), with its `previous` label where it had one."""
    names = list(threads)
    if count < 1 or not names:
        return dict.fromkeys(names, "")
    previous = previous or {}
    vocabulary = list(rarity.vocabulary)  # every term of every thread is numbered already
    best: list[list[int]] = []
    for batch in _batches(threads, names):
        best += _best_terms(threads, batch, rarity, vocabulary, 2 * count)
    labels = {}
    for name, terms in zip(names, best, strict=True):
        ranked = [vocabulary[term] for term in terms]
        earlier = previous.get(name)
        if earlier and _still_among(earlier, set(ranked)):
            labels[name] = earlier
            continue
        surface = _surfaces(threads[name].titles, set(ranked[:count]))
        labels[name] = " · ".join(_shown(surface[term]) if surface[term] else term for term in ranked[:count])
    return labels


def thread_label(
    titles: Sequence[str],
    terms: Sequence[Sequence[str]],
    rarity: TermRarity,
    count: int = 4,
    previous: str | None = None,
    languages: Sequence[str | None] | None = None,
) -> str:
    """One thread's label (`thread_labels`); `terms` are its members' label terms."""
    numbered = rarity.numbered(terms)
    members = ThreadMembers(titles, numbered, languages if languages is not None else [None] * len(terms))
    return thread_labels({"": members}, rarity, count, {"": previous} if previous else None)[""]


LABEL_BATCH_TERMS = 2_000_000
"""Member terms scored in one array step: bounds its memory (a few tens of bytes a term)."""


def _batches(threads: Mapping[str, ThreadMembers], names: list[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    terms = 0
    for name in names:
        size = sum(map(len, threads[name].terms))
        if batch and terms + size > LABEL_BATCH_TERMS:
            yield batch
            batch, terms = [], 0
        batch.append(name)
        terms += size
    if batch:
        yield batch


def _best_terms(
    threads: Mapping[str, ThreadMembers], names: list[str], rarity: TermRarity, vocabulary: list[str], count: int
) -> list[list[int]]:
    """For each thread of `names`, the numbers of its `count` best terms, best first (ties by the term)."""
    members = [terms for name in names for terms in threads[name].terms]
    ids = np.concatenate(members).astype(np.int64) if members else np.zeros(0, dtype=np.int64)
    table, rows = rarity.idf_table()
    whole = table.shape[0] - 1
    sizes = np.fromiter(map(len, members), dtype=np.int64, count=len(members))
    thread_of_member = np.repeat(np.arange(len(names), dtype=np.int64), [len(threads[name].terms) for name in names])
    row_of_member = np.fromiter(
        (rows.get(language, whole) for name in names for language in threads[name].languages),
        dtype=np.int64,
        count=len(members),
    )
    size, rows_count = table.shape[1], table.shape[0]
    # a term's count in a thread's members of one language, times its IDF there; summed over the languages
    keys, counts = np.unique(
        np.repeat(thread_of_member * rows_count + row_of_member, sizes) * size + ids, return_counts=True
    )
    term, row = keys % size, (keys // size) % rows_count
    contributions = counts * table[row, term]
    pairs, where = np.unique((keys // size // rows_count) * size + term, return_inverse=True)
    score = np.bincount(where, weights=contributions, minlength=len(pairs))
    thread, term = pairs // size, pairs % size
    order = np.lexsort((-score, thread))
    thread, term, score = thread[order], term[order], score[order]
    starts = np.searchsorted(thread, np.arange(len(names) + 1))
    best = []
    for index in range(len(names)):
        first, last = int(starts[index]), int(starts[index + 1])
        if first + count < last:  # the terms tied with the last one taken compete for its place by their wording
            tied = np.searchsorted(-score[first + count : last], -score[first + count - 1], "right")
            last = first + count + int(tied)
        ranked = sorted(
            zip((-score[first:last]).tolist(), term[first:last].tolist(), strict=True),
            key=lambda found: (found[0], vocabulary[found[1]]),
        )
        best.append([found for _, found in ranked[:count]])
    return best


def _still_among(label: str, best: set[str]) -> bool:
    """Whether each shown word of `label` is the wording of one of the `best` terms (or the term itself)."""
    return all(fold(word) in best or stem(fold(word)) in best for word in label.split(" · "))


def _title_word_term(word: str) -> str | None:
    folded = fold(word)
    return None if folded in STOPWORDS else stem(folded)


_TITLE_WORD_TERM: Memo[str | None] = Memo(_title_word_term)


def _surfaces(titles: Sequence[str], wanted: set[str]) -> dict[str, Counter[str]]:
    """How the titles write each `wanted` term: each form, how often."""
    surface: dict[str, Counter[str]] = defaultdict(Counter)
    for title in titles:
        for word in words(title):
            term = _TITLE_WORD_TERM[word]
            if term in wanted:
                surface[term][word] += 1
    return surface


_PROCLITICS = ("و", "ف", "ب", "ك", "ل")


def _shown(forms: Counter[str]) -> str:
    """The form of a word to show: the most common one that is not another form with a clitic before it."""
    folded = {fold(form) for form in forms}

    def has_clitic(form: str) -> bool:
        word = fold(form)
        return word.startswith("لل") or (word[:1] in _PROCLITICS and word[1:] in folded)

    bare = [form for form in forms if not has_clitic(form)] or list(forms)
    best = max(bare, key=lambda form: (forms[form], -len(form)))
    if fold(best).startswith("لل") and len(best) > 4:  # "لل" is "ل" + "ال": the word with its article
        return "ا" + best[1:]
    return best
