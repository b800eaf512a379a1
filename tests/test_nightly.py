"""Nightly runs against the store: reruns, late arrivals, edits, and a stream of several nights."""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from clustering.threads import ThreadSettings
from corpus.article import Article
from corpus.readers import read_articles
from embeddings.encoders import LexicalEncoder
from night.run import run_night
from night.search import index_path
from night.settings import NightSettings
from night.stages import Night
from store import Store
from tests.conftest import SEEDS, WIRE_PAIR
from tests.stream import article, night, vocabulary

NOW = datetime(2026, 11, 23, 2, 0)
ENCODER = LexicalEncoder()


def _seeds() -> list[Article]:
    return read_articles([SEEDS]).articles


def _night(store: Store, articles: list[Article], run_id: str, now: datetime = NOW) -> tuple[Night, dict]:
    result = run_night(store, articles, ENCODER, run_id, now)
    assert result.report is not None
    return result, result.report


def _findings(report: dict) -> tuple[list, list]:
    """The report's duplicates and threads without the fields that say what was new tonight."""
    pairs = [{k: v for k, v in p.items() if k != "new"} for p in report["duplicates"]]
    threads = [{k: v for k, v in t.items() if k != "new_articles"} for t in report["threads"]]
    return pairs, threads


def test_second_run_on_the_same_input_embeds_nothing_and_changes_nothing(store: Store) -> None:
    first, first_report = _night(store, _seeds(), "run-1")
    rows_after_first = store.counts()
    second, second_report = _night(store, _seeds(), "run-2", NOW + timedelta(days=1))

    assert first.vectors.embedded > 0
    assert second.tonight.fresh == [] and second.vectors.embedded == 0
    assert second_report["run"]["vectors_embedded"] == 0
    assert second_report["tonight"]["unchanged_articles"] == 5 and second_report["tonight"]["new_duplicates"] == []
    assert {k: v for k, v in store.counts().items() if k != "runs"} == {
        k: v for k, v in rows_after_first.items() if k != "runs"
    }
    assert _findings(second_report) == _findings(first_report)
    assert [p["articles"] for p in first_report["duplicates"]] == [list(WIRE_PAIR)]
    # the story vectors' IDF counts each article once, not once a night
    assert store.term_statistics(ThreadSettings().vectoriser().name)[0] == 5


def test_late_copy_is_a_new_pair_and_joins_the_first_runs_thread(store: Store) -> None:
    seeds = _seeds()
    earlier = [a for a in seeds if a.id != WIRE_PAIR[1]]
    _, first_report = _night(store, earlier, "run-1")
    thread_of_original = {a["id"]: a["thread"] for a in first_report["articles"]}[WIRE_PAIR[0]]
    assert thread_of_original is not None and first_report["duplicates"] == []

    _, second_report = _night(store, seeds, "run-2", NOW + timedelta(days=1))
    tonight = second_report["tonight"]
    assert tonight["new_articles"] == [WIRE_PAIR[1]]
    assert [p["articles"] for p in tonight["new_duplicates"]] == [list(WIRE_PAIR)]
    threads = {a["id"]: a["thread"] for a in second_report["articles"]}
    assert threads[WIRE_PAIR[1]] == threads[WIRE_PAIR[0]] == thread_of_original
    grown = {t["id"]: t["added"] for t in tonight["grown_threads"]}
    assert grown == {thread_of_original: [WIRE_PAIR[1]]}


def test_paragraphs_copied_word_for_word_from_a_stored_article_are_found_on_a_later_night(store: Store) -> None:
    original = next(a for a in _seeds() if a.id == WIRE_PAIR[0])
    _night(store, [original], "run-1")
    paragraphs = original.text.split("\n\n")
    # the same vectors as the stored article's paragraphs: found through the store, not as tonight's own
    excerpt = Article("excerpt", "مقتطف", "\n\n".join(paragraphs[: len(paragraphs) // 2]), source="digest")
    _, report = _night(store, [excerpt], "run-2", NOW + timedelta(days=1))
    (pair,) = report["tonight"]["new_duplicates"]
    assert set(pair["articles"]) == {original.id, "excerpt"}


def test_edited_article_is_updated_in_place(store: Store) -> None:
    seeds = _seeds()
    _night(store, seeds, "run-1")
    copy = next(a for a in seeds if a.id == WIRE_PAIR[1])
    shortened = replace(copy, text=copy.text.splitlines()[0] + "\nتصحيح: حذفت بقية الخبر.")
    result, report = _night(store, [shortened], "run-2", NOW + timedelta(hours=1))
    assert result.tonight.intake.updated == [WIRE_PAIR[1]]
    assert store.counts()["articles"] == 5
    assert [a.text for a in store.articles([WIRE_PAIR[1]])] == [shortened.text]
    # the pair was worked out again on the new text: the one paragraph left is a copy of 000's
    (pair,) = report["duplicates"]
    assert pair["found_run"] == "run-2"
    assert pair["containment"][WIRE_PAIR[1]] > 0.9 and pair["containment"][WIRE_PAIR[0]] < 0.15


def test_stream_of_nights_keeps_ids_records_merges_and_never_reuses_an_id(store: Store) -> None:
    start = datetime(2026, 11, 1)
    floods, talks, fire = vocabulary(1), vocabulary(2), vocabulary(3)
    seed = itertools.count(100)

    def batch(prefix: str, words: list[str], count: int, day: int, first: int = 0) -> list[Article]:
        return [article(f"{prefix}{i}", words, night(start, day), next(seed)) for i in range(first, first + count)]

    nights = [
        # one story, and two early reports of the talks that use different halves of its vocabulary
        batch("flood", floods, 4, 0) + batch("talks-east", talks[:60], 3, 0) + batch("talks-west", talks[60:], 3, 0),
        batch("flood", floods, 2, 1, first=4) + batch("fire", fire, 3, 1),
        batch("talks", talks, 10, 2),
    ]
    ids_seen: dict[str, set[str]] = {}
    results = []
    for day, articles in enumerate(nights):
        result, _ = _night(store, articles, f"run-{day}", night(start, day) + timedelta(hours=6))
        results.append(result)
        for thread_id, thread in store.threads(include_retired=True).items():
            ids_seen.setdefault(thread_id, set()).update(thread.members)

    memberships = store.memberships()
    flood_thread = memberships["flood0"]
    # the story that grew kept the id it got on the first night
    assert {memberships[f"flood{i}"] for i in range(6)} == {flood_thread}
    first_night_threads = {e.thread_id for e in results[0].threads.events if e.kind == "new"}
    assert flood_thread in first_night_threads
    assert [e.related for e in results[1].threads.events if e.kind == "grew" and e.thread_id == flood_thread] == [
        ["flood4", "flood5"]
    ]
    # the two halves of the talks story merged into one thread, and the merge is recorded
    merges = [e for e in results[2].threads.events if e.kind == "merge"]
    assert len(merges) == 1
    survivor, retired = merges[0].thread_id, merges[0].related
    east, west = memberships["talks-east0"], memberships["talks-west0"]
    assert east == west == survivor
    assert retired and survivor not in retired
    stored = store.threads(include_retired=True)
    assert all(stored[r].merged_into == survivor for r in retired)
    assert {memberships[f"talks{i}"] for i in range(10)} == {survivor}
    # no id was ever given to two different stories: every live thread's id is unique and retired ids hold nobody
    assert all(not stored[r].members for r in retired)
    assert len(stored) == len(set(stored))
    assert len({memberships[f"fire{i}"] for i in range(3)} | {flood_thread, survivor}) == 3


def test_truncated_index_file_is_rebuilt(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    seeds = _seeds()
    _night(store, [a for a in seeds if a.id != WIRE_PAIR[1]], "run-1")
    index_file = Path(index_path(store, ENCODER, "passage"))
    index_file.write_bytes(index_file.read_bytes()[:100])
    _, report = _night(store, seeds, "run-2", NOW + timedelta(hours=1))
    assert "rebuilding it" in caplog.text
    assert [p["articles"] for p in report["tonight"]["new_duplicates"]] == [list(WIRE_PAIR)]


def test_a_small_night_reclusters_only_around_its_articles(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    start = datetime(2026, 11, 1)
    seed = itertools.count(500)
    stories = [vocabulary(10 + s, size=40) for s in range(8)]
    first = [
        article(f"s{s}-{i}", words, night(start, 0), next(seed)) for s, words in enumerate(stories) for i in range(5)
    ]
    settings = NightSettings(threads=ThreadSettings(scope_neighbours=3))
    run_night(store, first, LexicalEncoder(), "run-0", night(start, 0) + timedelta(hours=6), settings)
    before = store.memberships()
    story_thread = before["s0-0"]
    assert {before[f"s0-{i}"] for i in range(5)} == {story_thread}

    late = [article(f"s0-{i}", stories[0], night(start, 1), next(seed)) for i in range(5, 7)]
    with caplog.at_level(logging.INFO, logger="night.threads"):
        result = run_night(store, late, LexicalEncoder(), "run-1", night(start, 1) + timedelta(hours=6), settings)
    # two more articles of one story join its thread as it is: nothing is re-clustered
    assert "2 of tonight's articles joined a stored thread as it is" in caplog.text
    assert "re-clustering 0 of the window's 42 articles" in caplog.text
    after = store.memberships()
    assert after["s0-5"] == after["s0-6"] == story_thread
    assert {a: t for a, t in after.items() if not a.startswith("s0-")} == {
        a: t for a, t in before.items() if not a.startswith("s0-")
    }
    assert set(result.threads.memberships) == {"s0-5", "s0-6"}
    assert [(e.kind, e.thread_id, e.related) for e in result.threads.events] == [
        ("grew", story_thread, ["s0-5", "s0-6"])
    ]

    # a new story's articles are clustered with their neighbours only: the other threads stay as they are
    fresh_story = vocabulary(30, size=40)
    news = [article(f"n-{i}", fresh_story, night(start, 2), next(seed)) for i in range(3)]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="night.threads"):
        result = run_night(store, news, LexicalEncoder(), "run-2", night(start, 2) + timedelta(hours=6), settings)
    assert "0 of tonight's articles joined a stored thread as it is" in caplog.text
    scoped = int(re.search(r"re-clustering (\d+) of the window's 45 articles", caplog.text).group(1))
    assert 3 <= scoped < 45
    latest = store.memberships()
    assert len({latest[f"n-{i}"] for i in range(3)}) == 1
    assert latest["n-0"] not in set(after.values())
    assert {a: t for a, t in latest.items() if not a.startswith("n-")} == after


def test_embedding_in_small_steps_encodes_each_text_once_and_gives_the_same_vectors(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from night import embedding

    articles = read_articles([SEEDS]).articles
    # every passage twice (each copy adds a comment of its own: not the same reporting, so no duplicate group)
    copies = [
        replace(
            a,
            id=f"copy-{a.id}",
            text=f"{a.text}\n\nوعلقت صحيفة {outlet} على الخبر بأن المفاوضات ستتواصل خلال الأسابيع المقبلة",
        )
        for a, outlet in zip(articles, ("الشروق", "الخليج", "النهار", "الرأي", "الغد"), strict=True)
    ]
    whole = run_night(store, articles + copies, LexicalEncoder(), "whole", NOW)
    monkeypatch.setattr(embedding, "EMBED_BATCH", 3)
    with Store.open(tmp_path / "steps") as small_steps:
        stepped = run_night(small_steps, articles + copies, LexicalEncoder(), "steps", NOW)
    assert stepped.vectors.embedded == whole.vectors.embedded
    # each copy reused its original's vectors: only the copies' own comments were new
    assert whole.vectors.reused >= whole.vectors.embedded - len(copies)
    assert np.array_equal(stepped.vectors.passages, whole.vectors.passages)
    assert {p.articles for p in stepped.pairs} == {p.articles for p in whole.pairs}


def test_stored_articles_a_night_involves_get_their_stored_vector_ids_without_encoding(store: Store) -> None:
    from night.embedding import embed_stored
    from night.intake import prepare_stored
    from night.search import stored_text_ids

    _night(store, _seeds(), "run-1")
    stored = prepare_stored(store, [a.id for a in _seeds()], NightSettings(), save=False)
    ids = stored_text_ids(store, stored, ENCODER)
    assert ids is not None
    encoded = embed_stored(store, stored, ENCODER, record=False)
    assert encoded.embedded == 0  # every text was stored already
    assert ids["passage"].tolist() == encoded.passage_ids.tolist() and len(ids["passage"]) > 0
    assert ids["quote"].tolist() == encoded.quote_ids.tolist() and len(ids["quote"]) > 0
    # a text prepared otherwise than when it was embedded (here: edited, not yet analysed): the caller embeds instead
    added = " ".join(f"كلمة{i} جديدة{i}" for i in range(40))
    edited = replace(stored[0].article, text=f"{stored[0].article.text}\n{added}")
    store.ingest([edited], "run-2", NOW + timedelta(days=1))
    (changed,) = prepare_stored(store, [edited.id], NightSettings(), save=False)
    assert stored_text_ids(store, [changed], ENCODER) is None


def test_a_stored_article_is_compared_as_it_was_embedded_after_its_source_repeats_a_line(store: Store) -> None:
    """Later nights rebuild a stored article from its kept preparation: a line its source has since repeated
    in many articles (furniture now) stays among its passages, whose vectors are stored, so it is not embedded
    again when tonight's articles involve it."""
    from night.intake import prepare_stored
    from night.search import stored_text_ids

    line = "Follow the full coverage of these events on our site and on our social media accounts every day"

    def written(article_id: str, seed: int) -> Article:
        story = article(article_id, vocabulary(seed), NOW - timedelta(hours=seed), seed)
        return replace(story, text=f"{story.text}\n\n{line}", source="example.com")

    _night(store, [written("first", 0)], "run-1")
    (before,) = prepare_stored(store, ["first"], NightSettings(), save=False)
    assert any(line in p.text for p in before.passages)
    later = [written(f"later-{i}", i + 1) for i in range(6)]
    _night(store, later, "run-2", NOW + timedelta(days=1))
    (now,) = prepare_stored(store, ["later-0"], NightSettings(), save=False)
    assert [p.boilerplate for p in now.paragraphs if p.text == line] == ["repeated by its source across articles"]
    (after,) = prepare_stored(store, ["first"], NightSettings(), save=False)
    assert after.passages == before.passages
    assert stored_text_ids(store, [after], ENCODER) is not None


def test_stored_terms_are_a_fresh_tokenisation_and_a_later_night_tokenises_no_stored_article(store: Store) -> None:
    from corpus.prepare import articles_tokenised
    from corpus.tokens import tokenise, unpack

    seeds = _seeds()
    _night(store, seeds, "run-1")
    ids = [a.id for a in seeds]
    kept = store.preparations(ids)
    fresh = tokenise([a.text for a in seeds])
    for index, seed in enumerate(seeds):
        _, blob = kept[seed.id]
        stored = unpack(blob[4 + int.from_bytes(blob[:4], "little") :])  # after the title's terms
        for name in ("ids", "starts", "ends", "stem_lengths"):
            assert np.array_equal(getattr(stored, name), getattr(fresh[index], name)), (seed.id, name)
    # a new copy of the wire story's paragraphs: the stored articles it shares text with are compared with it, and
    # its thread is re-clustered with them, but none of them is tokenised again
    wire = next(a for a in seeds if a.id == WIRE_PAIR[0])
    rewrite = replace(wire, id="rewrite", text="\n".join(wire.text.splitlines()[2:]), title="نسخة أخرى")
    before = articles_tokenised()
    result, report = _night(store, [rewrite], "run-2", NOW + timedelta(hours=3))
    assert articles_tokenised() - before == 1
    assert any("rewrite" in pair["articles"] and WIRE_PAIR[0] in pair["articles"] for pair in report["duplicates"])
