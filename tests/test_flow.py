"""The Prefect flow and the `storythreads run` command, against a real (temporary) Prefect API."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner

from corpus.readers import DEFAULT_MAX_ARTICLE_BYTES
from flows.cli import app
from flows.pipeline import run_flow
from tests.conftest import WIRE_PAIR, generator_texts

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_the_run_log_in_prefect_has_every_stage_its_seconds_and_the_encoder_fallback(
    seeds_dir: Path, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from night.stages import STAGE_NAMES

    result = run_flow([seeds_dir], output=str(tmp_path), encoder="auto")  # offline in the tests: falls back
    run_id = UUID(result["report"]["run"]["id"])
    stages = result["report"]["run"]["stages"]
    assert list(stages) == list(STAGE_NAMES) and all(seconds >= 0 for seconds in stages.values())
    wanted = [f"{name} done in" for name in STAGE_NAMES] + ["fell back to lexical"]
    # logs reach the API in batches, a moment after the flow returns
    deadline = time.monotonic() + 30
    while True:
        with get_client(sync_client=True) as client:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        messages = [log.message for log in logs]
        if all(any(w in m for m in messages) for w in wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    missing = [w for w in wanted if not any(w in m for m in messages)]
    assert not missing, f"not in the Prefect run log: {missing}"


def _read_report(folder: Path) -> dict:
    for name in ("report.json", "report.md", "report.html"):
        assert (folder / name).stat().st_size > 0, name
    return json.loads((folder / "report.json").read_text(encoding="utf-8"))


def test_flow_run_publishes_its_report_as_artifacts(seeds_dir: Path, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    result = run_flow([seeds_dir], output=str(tmp_path), encoder="lexical")
    run_id = UUID(result["report"]["run"]["id"])
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run_id)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
        expected_stages = {
            "read articles",
            "choose encoder",
            "take in articles",
            "prepare text",
            "embed passages",
            "index and search candidates",
            "verify duplicates",
            "find story threads",
            "write reports",
        }
        # task runs reach the API through events, a moment after the flow returns
        deadline = time.monotonic() + 30
        while True:
            task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
            stage_names = {task_run.name.rsplit("-", 1)[0] for task_run in task_runs}
            if expected_stages <= stage_names or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert flow_run.state is not None and flow_run.state.is_completed()
    by_key = {artifact.key: artifact for artifact in artifacts}
    assert set(by_key) == {
        "storythreads-report",
        "storythreads-new-duplicates",
        "storythreads-threads",
        "storythreads-html-report",
        "storythreads-progress",
    }
    markdown = by_key["storythreads-report"].data
    assert isinstance(markdown, str) and "near\\_duplicate" in markdown and "ووستر" in markdown
    assert markdown.index("## Tonight") < markdown.index("## Duplicate reporting")
    rows = _table(by_key["storythreads-new-duplicates"].data)
    assert [(row["article_a"], row["article_b"], row["kind"]) for row in rows] == [(*WIRE_PAIR, "near_duplicate")]
    threads = _table(by_key["storythreads-threads"].data)
    assert [(row["articles"], row["joined_tonight"]) for row in threads] == [(2, 2)]
    assert by_key["storythreads-progress"].data == 100
    where = by_key["storythreads-html-report"].data
    html_path = (tmp_path / "report.html").resolve()
    assert f"`{html_path}`" in where and "file://" not in where  # a path to open, not a link no browser follows
    assert expected_stages <= stage_names


def _table(data: object) -> list[dict]:
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[return-value]


def test_cli_second_run_on_seeds_embeds_nothing_and_reports_the_same(seeds_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    reports = []
    for night in ("first", "second"):
        result = CliRunner().invoke(
            app, ["run", str(seeds_dir), "--home", str(home), "--output", str(tmp_path / night), "--encoder", "lexical"]
        )
        assert result.exit_code == 0, result.output
        reports.append(_read_report(tmp_path / night))
    first, second = reports
    assert "0 texts embedded" in result.output and "0 new duplicate pairs" in result.output
    assert second["run"]["vectors_embedded"] == 0 and second["run"]["articles_unchanged"] == 5
    assert [{k: v for k, v in p.items() if k != "new"} for p in second["duplicates"]] == [
        {k: v for k, v in p.items() if k != "new"} for p in first["duplicates"]
    ]
    assert [(t["id"], t["articles"], t["label"]) for t in second["threads"]] == [
        (t["id"], t["articles"], t["label"]) for t in first["threads"]
    ]
    assert (home / "storythreads.db").is_file() and list((home / "index").glob("*.passage.faiss"))


def test_cli_run_on_seeds_prints_the_summary_and_writes_reports(seeds_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", str(seeds_dir), "--output", str(tmp_path), "--encoder", "lexical"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    report = _read_report(tmp_path)
    assert report["run"]["encoder"].startswith("lexical")
    assert [pair["articles"] for pair in report["duplicates"]] == [list(WIRE_PAIR)]
    # each thing once: the new pair and the new thread in tonight's lines, the window in counts
    output = result.output
    assert output.count(f"{WIRE_PAIR[0]} ↔ {WIRE_PAIR[1]} (near_duplicate") == 1 and output.count("↔") == 1
    assert output.count(report["threads"][0]["label"]) == 1 and output.count(report["threads"][0]["id"]) == 1
    assert "in the window: 1 duplicate pair (1 near_duplicate), 0 duplicate groups" in output
    assert "INFO" not in output and "stage " not in output  # the run's log is for the Prefect UI and -v


def test_auto_encoder_offline_falls_back_and_the_report_says_why(seeds_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(seeds_dir), "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run = _read_report(tmp_path)["run"]
    assert run["encoder_requested"] == "auto"
    assert run["encoder"].startswith("lexical")
    assert "not in the local cache" in run["encoder_note"]


def test_bad_inputs_are_skipped_and_the_rest_processed(seeds_dir: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(seeds_dir, inbox)
    (inbox / "empty.txt").write_text("", encoding="utf-8")
    (inbox / "photo.txt").write_bytes(bytes(range(256)))
    (inbox / "batch.jsonl").write_text(
        '{"id": "j1", "text": "خبر قصير من ملف سطور"}\n{"id": "j2", "text": \n', encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["run", str(inbox), "--output", str(tmp_path / "out"), "--encoder", "lexical"])
    assert result.exit_code == 0, result.output
    report = _read_report(tmp_path / "out")
    skipped = {Path(s["input"]).name: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"empty.txt", "photo.txt", "batch.jsonl:2"}
    assert skipped["photo.txt"].startswith("binary file")
    assert skipped["batch.jsonl:2"].startswith("malformed JSON")
    assert report["run"]["articles_read"] == 6 and report["run"]["articles_skipped"] == 3
    assert [pair["articles"] for pair in report["duplicates"]] == [list(WIRE_PAIR)]
    assert "skipped" in result.output and "photo.txt" in result.output


def test_nothing_readable_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text(" ", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(tmp_path), "--output", str(tmp_path / "out"), "--encoder", "lexical"])
    assert result.exit_code == 1
    assert "no article could be read" in result.output
    assert _read_report(tmp_path / "out")["skipped"][0]["reason"] == "empty text (no non-blank line)"


def test_missing_input_path_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(tmp_path / "nowhere"), "--encoder", "lexical"])
    assert result.exit_code == 2
    assert "none of the inputs exist" in result.output and "nowhere" in result.output


def test_run_through_a_local_sentence_transformers_model(
    seeds_dir: Path, tmp_path: Path, tiny_model_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["run", str(seeds_dir), "--output", str(tmp_path), "--encoder", str(tiny_model_path), "--batch-size", "4"]
    )
    assert result.exit_code == 0, result.output
    report = _read_report(tmp_path)
    assert report["run"]["model"] == f"st-{tiny_model_path.name}-t128"
    assert report["run"]["encoder"].startswith("lexical-") and report["run"]["encoder_note"] is None
    assert report["run"]["articles_read"] == 5
    texts = report["run"]["passages"] + report["run"]["quotes"] + 5 + 5  # and each title, and each lead
    assert report["run"]["vectors_embedded"] + report["run"]["vectors_reused"] == texts
    assert all(pair["kind"] in {"exact", "near_duplicate", "partial_reuse"} for pair in report["duplicates"])
    threaded = {a for t in report["threads"] for a in t["articles"]}
    assert threaded | set(report["unthreaded"]) == {a["id"] for a in report["articles"]}


def test_threads_command_lists_the_stored_threads(seeds_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    run = CliRunner().invoke(app, ["run", str(seeds_dir), "--home", str(home), "--encoder", "lexical"])
    assert run.exit_code == 0, run.output
    report = json.loads((home / "reports" / "latest" / "report.json").read_text(encoding="utf-8"))
    (thread,) = report["threads"]
    listed = CliRunner().invoke(app, ["threads", "--home", str(home)])
    assert listed.exit_code == 0, listed.output
    assert thread["id"] in listed.output and "story threads (1)" in listed.output
    everything = CliRunner().invoke(app, ["threads", "--home", str(home), "--all"])
    assert "story threads (4)" in everything.output  # the wire pair's thread and three single-article stories


def _generated_file(folder: Path, count: int) -> Path:
    from bench.corpus import generate

    generate(generator_texts(), count, seed=11, copy_share=0.2).write(folder / "generated")
    return folder / "generated" / "articles.jsonl"


def _findings(report: dict) -> tuple[list, list]:
    pairs = sorted((p["articles"], p["kind"], p["score"], p["first"]) for p in report["duplicates"])
    threads = sorted((t["id"], t["articles"], t["label"]) for t in report["threads"])
    return pairs, threads


@pytest.mark.parametrize("corpus", ["seeds", "generated"])
def test_the_flow_on_a_dask_cluster_finds_what_it_finds_in_one_process(
    corpus: str, dask_cluster: str, seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from clustering import duplicates
    from embeddings import encoders

    # test-sized verification and hashing still go to the workers in several chunks
    monkeypatch.setattr(duplicates, "VERIFY_CHUNK", 200)
    monkeypatch.setattr(encoders, "LEXICAL_BATCH", 128)
    inputs = seeds_dir if corpus == "seeds" else _generated_file(tmp_path, 300)
    alone = run_flow([inputs], home=str(tmp_path / "alone"), encoder="lexical", workers=0)["report"]
    monkeypatch.setenv("STORYTHREADS_PARALLEL_FROM_CHARS", "0")  # every step on the cluster, however small
    clustered = run_flow([inputs], home=str(tmp_path / "cluster"), encoder="lexical", cluster=dask_cluster)["report"]
    assert _findings(clustered) == _findings(alone)
    assert alone["duplicates"] and alone["threads"]
    if corpus == "seeds":
        return  # too few texts for two batches
    # the embedding batches ran as Prefect task runs of this flow run, on the cluster's workers
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(clustered["run"]["id"])]))
        )
    assert any(run.name.startswith("encode texts") and run.state_name == "Completed" for run in runs), [
        (r.name, r.state_name) for r in runs
    ]


def test_a_cluster_address_that_does_not_answer_is_a_clear_error(seeds_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(seeds_dir), "--cluster", "tcp://127.0.0.1:9", "--encoder", "lexical"])
    assert result.exit_code == 2, result.output
    assert "no Dask scheduler answered at tcp://127.0.0.1:9" in " ".join(result.output.split())
    result = CliRunner().invoke(app, ["run", str(seeds_dir), "--cluster", "127.0.0.1:8786"])
    assert result.exit_code == 2 and "got '127.0.0.1:8786'" in " ".join(result.output.split())


def test_threads_command_names_a_home_or_database_that_holds_no_store(tmp_path: Path) -> None:
    mistyped = tmp_path / "hmoe"
    listed = CliRunner().invoke(app, ["threads", "--home", str(mistyped)])
    assert listed.exit_code == 2
    assert "no store in" in listed.output and "hmoe" in listed.output
    assert not mistyped.exists()  # nothing was created on the way
    missing_db = tmp_path / "none.db"
    listed = CliRunner().invoke(app, ["threads", "--home", str(tmp_path / "h"), "--db", f"sqlite:///{missing_db}"])
    assert listed.exit_code == 2
    assert "no store in database" in listed.output and "none.db" in listed.output
    assert not missing_db.exists()


def test_the_encoder_fallback_is_said_once(seeds_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    logged: list[str] = []
    listener = logging.Handler()
    listener.emit = lambda record: logged.append(record.getMessage())  # type: ignore[method-assign]
    for package in ("night", "embeddings", "flows"):  # where a run says what it chose
        logging.getLogger(package).addHandler(listener)
    try:
        run = CliRunner().invoke(app, ["run", str(seeds_dir), "--home", str(tmp_path / "home"), "--encoder", "auto"])
    finally:
        for package in ("night", "embeddings", "flows"):
            logging.getLogger(package).removeHandler(listener)
    assert run.exit_code == 0, run.output
    # once in the terminal (its warning, not again in the summary), once in the run's log
    assert " ".join(run.output.split()).count("HF_HUB_OFFLINE") == 1, run.output
    assert sum(text.count("HF_HUB_OFFLINE") for text in logged) == 1, logged


def test_help_shows_every_options_default() -> None:
    import typer.main

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name in ("run", "threads", "serve", "compare"):
        shown = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "250"})
        text = " ".join(shown.output.split())
        params = commands[name].params
        options = [o.opts[0] for o in params if o.param_type_name == "option" and o.name != "help"]
        assert options
        starts = sorted((text.index(f"{option} "), option) for option in options)
        ends = [start for start, _ in starts[1:]] + [text.index("--help ")]
        for (start, option), end in zip(starts, ends, strict=True):
            required = "[required]" in text[start:end]
            assert required or "[default:" in text[start:end], f"storythreads {name} --help: no default for {option}"
    wide = " ".join(CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "250"}).output.split())
    assert "~/.storythreads; env STORYTHREADS_HOME" in wide
    assert f"{DEFAULT_MAX_ARTICLE_BYTES}; env STORYTHREADS_MAX_ARTICLE_BYTES" in wide
