"""Thread labels a reader recognises: words as written, and the same words from night to night."""

from __future__ import annotations

from datetime import datetime, timedelta

from clustering.labels import TermRarity, thread_label
from corpus.text import fold, stem
from embeddings.encoders import LexicalEncoder
from night.run import run_night
from store import Store
from tests.stream import article, vocabulary

NOW = datetime(2026, 11, 23, 2, 0)


def test_a_word_is_shown_without_the_clitic_its_titles_carry() -> None:
    titles = ["زيادة للأجور في يناير", "الحكومة تعلن زيادة الأجور", "زيادة للأجور تبدأ الشهر المقبل"]
    terms = [[stem(fold(word)) for word in title.split()] for title in titles]
    label = thread_label(titles, terms, rarity({stem(fold("زيادة")): 3, stem(fold("الأجور")): 3}, 100), 2)
    # «للأجور» is «ل» + «الأجور», which another title writes: the word is shown as that one writes it
    assert set(label.split(" · ")) == {"زيادة", "الأجور"}
    alone = thread_label(["زيادة للأجور"], [[stem(fold("زيادة")), stem(fold("للأجور"))]], rarity({}, 100), 2)
    assert "الأجور" in alone.split(" · ") and "للأجور" not in alone


def test_a_thread_in_two_languages_is_labelled_by_its_names_not_by_each_languages_function_words() -> None:
    german = ["merkel"] * 4 + ["kontaktsperre"] * 2 + ["der"] * 12 + ["die"] * 9
    spanish = ["merkel"] * 3 + ["restricciones"] * 2 + ["que"] * 10
    # a window of 100 articles: 10 German (all with «der» and «die»), 30 Spanish (all with «que»), 60 others
    window = TermRarity()
    for index in range(10):
        window.add(["der", "die", *(["merkel"] if index < 4 else []), *(["kontaktsperre"] if index < 3 else [])], "de")
    for index in range(30):
        window.add(["que", *(["merkel", "restricciones"] if index < 2 else [])], "es")
    for _ in range(60):
        window.add(["weather"], "en")
    label = thread_label([""] * 5, [german] * 3 + [spanish] * 2, window, 3, languages=["de"] * 3 + ["es"] * 2)
    # measured against all 100 articles, «der» (36 times in a tenth of them) would lead: «der · die · merkel»
    assert label.split(" · ")[0] == "merkel" and "que" not in label.split(" · ")


def rarity(carrying: dict[str, int], articles: int) -> TermRarity:
    """The rarity of terms in a window of `articles` of unknown language, `carrying[term]` of them with the term."""
    found = TermRarity()
    for index in range(articles):
        found.add([term for term, times in carrying.items() if index < times])
    return found


def test_the_previous_label_stays_until_its_words_leave_the_threads_best_terms() -> None:
    terms = [["harbour", "strike", "wages", "union"]] * 3 + [["harbour", "strike", "ships", "minister"]]
    window = rarity({t: 1 for t in ["harbour", "strike", "wages", "union", "ships", "minister"]}, 50)
    fresh = thread_label([""] * 4, terms, window, 2)
    assert fresh == "harbour · strike"
    assert thread_label([""] * 4, terms, window, 2, previous="wages · union") == "wages · union"
    # a word that is no longer among the best four terms: the label is worked out again
    assert thread_label([""] * 4, terms, window, 2, previous="wages · election") == fresh


def test_a_night_that_adds_one_article_of_the_story_keeps_the_threads_label(store: Store) -> None:
    story, other = vocabulary(100), vocabulary(200)
    first = [article(f"a{i}", story, NOW - timedelta(hours=i), i) for i in range(4)]
    first += [article(f"b{i}", other, NOW - timedelta(hours=i), 50 + i) for i in range(4)]
    labels = {t["id"]: t["label"] for t in run_night(store, first, LexicalEncoder(), "r1", NOW).report["threads"]}
    later = [article("a9", story, NOW + timedelta(hours=20), 9)]
    report = run_night(store, later, LexicalEncoder(), "r2", NOW + timedelta(days=1)).report
    grown = [t for t in report["threads"] if "a9" in t["articles"]]
    assert len(grown) == 1 and grown[0]["id"] in labels
    assert grown[0]["label"] == labels[grown[0]["id"]]
