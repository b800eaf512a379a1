"""Thread labels a reader recognises: words as written, and the same words from night to night."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from clustering.threads import thread_label
from corpus.text import fold, stem
from embeddings.encoders import LexicalEncoder
from night.run import run_night
from store import Store
from tests.stream import article, vocabulary

NOW = datetime(2026, 11, 23, 2, 0)


def test_a_word_is_shown_without_the_clitic_its_titles_carry() -> None:
    titles = ["زيادة للأجور في يناير", "الحكومة تعلن زيادة الأجور", "زيادة للأجور تبدأ الشهر المقبل"]
    terms = [[stem(fold(word)) for word in title.split()] for title in titles]
    label = thread_label(titles, terms, Counter({stem(fold("زيادة")): 3, stem(fold("الأجور")): 3}), 100, 2)
    # «للأجور» is «ل» + «الأجور», which another title writes: the word is shown as that one writes it
    assert set(label.split(" · ")) == {"زيادة", "الأجور"}
    alone = thread_label(["زيادة للأجور"], [[stem(fold("زيادة")), stem(fold("للأجور"))]], Counter(), 100, 2)
    assert "الأجور" in alone.split(" · ") and "للأجور" not in alone


def test_the_previous_label_stays_until_its_words_leave_the_threads_best_terms() -> None:
    terms = [["harbour", "strike", "wages", "union"]] * 3 + [["harbour", "strike", "ships", "minister"]]
    frequency = Counter({t: 1 for t in ["harbour", "strike", "wages", "union", "ships", "minister"]})
    fresh = thread_label([""] * 4, terms, frequency, 50, 2)
    assert fresh == "harbour · strike"
    assert thread_label([""] * 4, terms, frequency, 50, 2, previous="wages · union") == "wages · union"
    # a word that is no longer among the best four terms: the label is worked out again
    assert thread_label([""] * 4, terms, frequency, 50, 2, previous="wages · election") == fresh


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
