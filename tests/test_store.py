"""The store on its own: articles in and out, the embedding cache, pairs, schema checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from corpus.article import Article
from store import Store, StoredPair, compact
from store.schema import vectors_table

NOW = datetime(2026, 11, 23, 2, 0)


def _article(article_id: str, text: str = "نص الخبر الأول.\n\nفقرة ثانية.") -> Article:
    return Article(id=article_id, title=f"عنوان {article_id}", text=text, source="وكالة", published_at=NOW)


def test_ingest_sorts_new_changed_and_unchanged_without_duplicate_rows(store: Store) -> None:
    first = store.ingest([_article("a"), _article("b")], "run-1", NOW)
    assert (first.new, first.updated, first.unchanged) == (["a", "b"], [], [])
    changed = replace(_article("b"), text="نص جديد بعد التعديل.")
    second = store.ingest([_article("a"), changed, _article("c")], "run-2", NOW)
    assert (second.new, second.updated, second.unchanged) == (["c"], ["b"], ["a"])
    assert store.counts()["articles"] == 3
    assert [a.text for a in store.articles(["b"])] == ["نص جديد بعد التعديل."]


def test_changed_article_loses_its_old_pairs(store: Store) -> None:
    store.ingest([_article("a"), _article("b")], "run-1", NOW)
    pair = StoredPair("a", "b", "exact", 1.0, "a", {"articles": ["a", "b"]}, "lexical", "run-1")
    store.replace_pairs(["a", "b"], [pair])
    assert [(p.article_a, p.article_b) for p in store.pairs_among(["a", "b"])] == [("a", "b")]
    store.ingest([replace(_article("b"), text="شيء آخر تماما.")], "run-2", NOW)
    assert store.pairs_among(["a", "b"]) == []


def test_links_among_are_the_stored_pairs_of_the_kinds_asked(store: Store) -> None:
    store.ingest([_article("a"), _article("b"), _article("c")], "run-1", NOW)
    pairs = [
        StoredPair("a", "b", "near_duplicate", 0.8, None, {"articles": ["a", "b"]}, "lexical", "run-1"),
        StoredPair("a", "c", "partial_reuse", 0.9, None, {"articles": ["a", "c"]}, "lexical", "run-1"),
        StoredPair("b", "c", "exact", 1.0, None, {"articles": ["b", "c"]}, "lexical", "run-1"),
    ]
    store.replace_pairs(["a", "b", "c"], pairs)
    strong = ("exact", "near_duplicate")
    assert store.links_among(["a", "b", "c"], strong) == [("b", "c", 1.0), ("a", "b", 0.8)]
    assert store.links_among(["a", "b"], strong) == [("a", "b", 0.8)]
    expected = [(p.article_a, p.article_b, p.score) for p in store.pairs_among(["a", "b", "c"]) if p.kind in strong]
    assert store.links_among(["a", "b", "c"], strong) == expected


def test_vector_cache_keeps_float16_and_reads_older_float32_blobs(store: Store) -> None:
    vectors = {"h1": np.array([0.6, 0.8, 0.0], dtype=np.float32), "h2": np.array([1.0, 0.0, 0.0], dtype=np.float32)}
    ids = store.add_vectors("enc", "passage", vectors)
    assert set(ids) == {"h1", "h2"} and ids["h1"] != ids["h2"]
    found = store.cached_vectors("enc", "passage", ["h1", "h2", "missing"])
    assert set(found) == {"h1", "h2"}
    assert np.array_equal(found["h1"][1], compact(vectors["h1"]))
    assert np.abs(found["h1"][1] - vectors["h1"]).max() < 1e-3
    assert store.cached_vectors("other-encoder", "passage", ["h1"]) == {}
    batches = list(store.vectors_after("enc", "passage", 1))
    assert [list(ids) for ids, _ in batches] == [[ids["h2"]]]
    # a store written before float16: its raw float32 blobs read back unchanged
    with store.engine.begin() as connection:
        connection.execute(
            update(vectors_table).where(vectors_table.c.id == ids["h1"]).values(vector=vectors["h1"].tobytes())
        )
    assert np.array_equal(store.cached_vectors("enc", "passage", ["h1"])["h1"][1], vectors["h1"])


def test_the_ids_add_vectors_gives_are_those_the_store_finds_by_hash_across_batches_and_after_deletions(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vectors added in batches larger than one statement, after the newest rows of the cache were deleted and
    another kind was added between: each text's id is the stored row's, found again by its hash."""
    from sqlalchemy import delete

    monkeypatch.setattr("store.vectors.VECTOR_BATCH", 1_000)
    rng = np.random.default_rng(3)
    first = store.add_vectors("enc", "passage", {f"p{i}": rng.standard_normal(4) for i in range(30)})
    with store.engine.begin() as connection:
        connection.execute(delete(vectors_table).where(vectors_table.c.id >= first["p25"]))
    store.add_vectors("enc", "quote", {f"q{i}": rng.standard_normal(4) for i in range(7)})
    later = {f"n{i}": rng.standard_normal(4).astype(np.float32) for i in range(2_345)}
    ids = store.add_vectors("enc", "passage", later)
    assert ids == store.vector_ids("enc", "passage", list(later))
    assert len(set(ids.values())) == len(later) and not set(ids.values()) & set(first.values())
    found = store.cached_vectors("enc", "passage", ["n0", "n2344"])
    assert {h: i for h, (i, _) in found.items()} == {"n0": ids["n0"], "n2344": ids["n2344"]}
    assert np.array_equal(found["n2344"][1], compact(later["n2344"]))


def test_a_store_from_a_newer_schema_is_refused_with_the_fix(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store, store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE storythreads_meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(ValueError, match=r"schema version 99.*expects 5.*new store"):
        Store.open(tmp_path)


def test_a_store_of_schema_1_gains_the_publication_offset_and_the_reporting_keys_and_keeps_its_articles(
    store: Store,
) -> None:
    wire = replace(_article("old"), text=" ".join(["word"] * 30))
    store.ingest([wire, replace(wire, id="old-copy")], "run-1", NOW)
    with store.engine.begin() as connection:  # the store as version 1 left it
        for key in ("reporting_key", "passage_key"):
            connection.exec_driver_sql(f"DROP INDEX articles_{key}")
            connection.exec_driver_sql(f"ALTER TABLE articles DROP COLUMN {key}")
        connection.exec_driver_sql("ALTER TABLE articles DROP COLUMN published_offset")
        connection.exec_driver_sql("ALTER TABLE articles DROP COLUMN prepared")
        connection.exec_driver_sql("ALTER TABLE articles DROP COLUMN tokens")
        connection.exec_driver_sql("UPDATE storythreads_meta SET value = '1' WHERE key = 'schema'")
    store._check_schema()
    written = replace(_article("new"), published_at=datetime(2026, 11, 23, 6), published_offset=180)
    store.ingest([written, replace(wire, id="new-copy")], "run-2", NOW)
    assert [(a.id, a.published_offset) for a in store.articles(["old", "new"])] == [("old", None), ("new", 180)]
    # copies stored before there were groups are found beside tonight's
    members = store.group_members(["old", "old-copy", "new", "new-copy"], "lexical")
    assert sorted(m.article for m in members) == ["new-copy", "old", "old-copy"]
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT value FROM storythreads_meta WHERE key = 'schema'").scalar() == "5"


def test_a_store_of_schema_3_gains_kept_preparations_and_prepares_its_articles_until_they_have_one(
    store: Store,
) -> None:
    from corpus.readers import read_articles
    from embeddings.encoders import LexicalEncoder
    from night.intake import prepare_stored
    from night.run import run_night
    from night.settings import NightSettings
    from tests.conftest import SEEDS

    seeds = read_articles([SEEDS]).articles
    run_night(store, seeds, LexicalEncoder(), "run-1", NOW)
    ids = [a.id for a in seeds]
    kept = prepare_stored(store, ids, NightSettings(), save=False)
    with store.engine.begin() as connection:  # the store as version 3 left it
        connection.exec_driver_sql("ALTER TABLE articles DROP COLUMN prepared")
        connection.exec_driver_sql("ALTER TABLE articles DROP COLUMN tokens")
        connection.exec_driver_sql("UPDATE storythreads_meta SET value = '3' WHERE key = 'schema'")
    store._check_schema()
    assert store.preparations(ids) == {}
    assert prepare_stored(store, ids, NightSettings(), save=False) == kept
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT value FROM storythreads_meta WHERE key = 'schema'").scalar() == "5"


def test_a_store_of_schema_4_gains_kept_terms_and_tokenises_its_articles_until_they_have_them(store: Store) -> None:
    from corpus.readers import read_articles
    from embeddings.encoders import LexicalEncoder
    from night.intake import prepare_stored
    from night.run import run_night
    from night.settings import NightSettings
    from tests.conftest import SEEDS

    seeds = read_articles([SEEDS]).articles
    run_night(store, seeds, LexicalEncoder(), "run-1", NOW)
    ids = [a.id for a in seeds]
    kept = prepare_stored(store, ids, NightSettings(), save=False)
    assert all(packed and terms for packed, terms in store.preparations(ids).values())
    with store.engine.begin() as connection:  # the store as version 4 left it
        connection.exec_driver_sql("ALTER TABLE articles DROP COLUMN tokens")
        connection.exec_driver_sql("UPDATE storythreads_meta SET value = '4' WHERE key = 'schema'")
    store._check_schema()
    assert all(terms is None for _, terms in store.preparations(ids).values())
    again = prepare_stored(store, ids, NightSettings(), save=False)  # prepared, and so tokenised, once more
    assert again == kept
    assert [a.tokens.ids.tolist() for a in again] == [a.tokens.ids.tolist() for a in kept]


def test_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    with pytest.raises(ValueError, match="is a file; expected a folder"):
        Store.open(home)


def test_paragraph_counts_and_furniture_match_the_prepared_seeds(store: Store) -> None:
    from corpus.readers import read_articles
    from embeddings.encoders import LexicalEncoder
    from night.intake import prepare_stored, take_in
    from night.settings import NightSettings
    from tests.conftest import SEEDS

    articles = read_articles([SEEDS]).articles
    tonight = take_in(store, articles, "run-1", datetime(2026, 11, 23), LexicalEncoder(), NightSettings())
    prepared = prepare_stored(store, tonight.fresh, NightSettings(), save=True)
    counts = store.paragraph_counts(tonight.fresh)
    furniture = store.furniture(tonight.fresh)
    for article in prepared:
        marked = [p for p in article.paragraphs if p.boilerplate]
        assert counts[article.article.id] == len(article.paragraphs)
        assert [(p.start, p.end, p.furniture) for p in furniture.get(article.article.id, [])] == [
            (p.start, p.end, p.boilerplate) for p in marked
        ]
    assert any(furniture.values())  # the seeds' «مقالات ذات صلة» and friends
