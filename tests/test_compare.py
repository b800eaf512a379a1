"""`storythreads compare A B`: the evidence between two articles."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from tests.conftest import WIRE_PAIR


def test_compare_shows_quotes_passages_and_containment(seeds_dir: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["compare", str(seeds_dir / f"{WIRE_PAIR[0]}.txt"), WIRE_PAIR[1], "--corpus", str(seeds_dir)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # the terminal may wrap lines anywhere
    assert "kind: near_duplicate" in output
    assert "quote · ووستر" in output and "ربما من دولة ثالثة" in output
    assert f"share of {WIRE_PAIR[0]} found in {WIRE_PAIR[1]}: 5" in output
    assert "story similarity:" in output
    assert "duplicate id" not in output
    # only the answer: not the log of the run behind it (a temporary store, its index files)
    assert result.output.startswith(WIRE_PAIR[0]) and ".faiss" not in output and "INFO" not in output
    verbose = CliRunner().invoke(
        app,
        ["-v", "compare", str(seeds_dir / f"{WIRE_PAIR[0]}.txt"), WIRE_PAIR[1], "--corpus", str(seeds_dir)],
        terminal_width=200,
    )
    assert verbose.exit_code == 0 and "stage verify duplicates" in verbose.output


def test_compare_two_copies_of_one_text_shows_them_as_one_duplicate_group(seeds_dir: Path, tmp_path: Path) -> None:
    import json

    text = (seeds_dir / f"{WIRE_PAIR[0]}.txt").read_text(encoding="utf-8")
    # another outlet's copy: its own headline, the text re-flowed and without its punctuation
    copy = " ".join(text.replace("،", " ").replace(".", " ").split())
    for name, title, body in (("wire", "الخبر", text), ("copy", "عنوان آخر من موقع آخر", copy)):
        record = {"id": name, "title": title, "text": body}
        (tmp_path / f"{name}.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["compare", str(tmp_path / "wire.jsonl"), str(tmp_path / "copy.jsonl")], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "kind: identical" in output and "one duplicate group (g-" in output
    assert "story similarity: 1.00" in output


def test_compare_unrelated_articles_says_nothing_is_shared(seeds_dir: Path) -> None:
    first, second = sorted(seeds_dir.glob("00[13]_*.txt"))
    result = CliRunner().invoke(app, ["compare", str(first), str(second)])
    assert result.exit_code == 0, result.output
    assert "no shared reporting" in result.output


def test_compare_unknown_article_is_a_clear_error(seeds_dir: Path) -> None:
    result = CliRunner().invoke(app, ["compare", "nope", WIRE_PAIR[1], "--corpus", str(seeds_dir)])
    assert result.exit_code == 2
    assert "no article 'nope'" in result.output


def test_compare_finds_stored_articles_by_id_with_no_files(seeds_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    run = CliRunner().invoke(app, ["run", str(seeds_dir), "--home", str(home), "--encoder", "lexical"])
    assert run.exit_code == 0, run.output
    result = CliRunner().invoke(app, ["compare", *WIRE_PAIR, "--home", str(home)], terminal_width=200)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "kind: near_duplicate" in output and "quote · ووستر" in output
    missing = CliRunner().invoke(app, ["compare", "nope", WIRE_PAIR[1], "--home", str(home)])
    assert missing.exit_code == 2
    assert "no article 'nope'" in missing.output and "not in the store at" in missing.output
    nowhere = CliRunner().invoke(app, ["compare", *WIRE_PAIR, "--home", str(tmp_path / "hmoe")])
    assert nowhere.exit_code == 2 and "no store in" in nowhere.output
    assert not (tmp_path / "hmoe").exists()
