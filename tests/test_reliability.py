"""Crash safety and concurrency: a run killed at any point, two runs at once, on a real store."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from corpus.readers import read_articles
from embeddings.encoders import LexicalEncoder
from night.faults import FAULT_ENV
from night.run import run_night
from night.search import index_path
from store import Store
from tests.conftest import ROOT, SEEDS, WIRE_PAIR
from tests.stream import article, vocabulary

CHECKPOINTS = [
    "take in articles",
    "prepare text",
    "embed: passage vectors cached",
    "embed passages",
    "index: files saved",
    "index and search candidates",
    "verify: pairs stored",
    "verify duplicates",
    "find story threads",
]


def _night_process(home: Path, run_id: str, *options: str, fault: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "tests.night_process", str(home), run_id, *options, str(SEEDS)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _findings(store: Store) -> tuple[list, dict]:
    window = store.window(datetime(2000, 1, 1))
    pairs = [(p.article_a, p.article_b, p.kind, p.score) for p in store.pairs_among(window)]
    groups: dict[str, set[str]] = {}
    for member, thread in store.memberships().items():
        groups.setdefault(thread, set()).add(member)
    return pairs, {thread: members for thread, members in groups.items() if len(members) > 1}


@pytest.fixture(scope="module")
def clean_findings(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, dict]:
    with Store.open(tmp_path_factory.mktemp("clean")) as store:
        run_night(store, read_articles([SEEDS]).articles, LexicalEncoder(), "clean", datetime(2026, 11, 23, 2))
        return _findings(store)


@pytest.mark.parametrize("point", CHECKPOINTS)
def test_run_killed_at_any_point_is_completed_by_the_next_run(
    point: str, tmp_path: Path, clean_findings: tuple[list, dict]
) -> None:
    killed = _night_process(tmp_path, "killed", fault=point)
    killed.communicate(timeout=120)
    assert killed.returncode == -9, f"the run was not killed at {point!r}"

    with Store.open(tmp_path) as store:
        result = run_night(store, read_articles([SEEDS]).articles, LexicalEncoder(), "next", datetime(2026, 11, 23, 3))
        assert store.check() == []
        assert _findings(store) == clean_findings
        assert [r["status"] for r in store.runs()] == ["interrupted", "completed"]
        assert {(p.article_a, p.article_b) for p in store.pairs_among(result.tonight.window)} == {WIRE_PAIR}


def test_two_runs_at_once_one_waits_and_the_store_stays_sound(
    tmp_path: Path, clean_findings: tuple[list, dict]
) -> None:
    runs = [_night_process(tmp_path, f"run-{i}", "--lock-wait", "120") for i in range(2)]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    with Store.open(tmp_path) as store:
        assert store.check() == []
        assert _findings(store) == clean_findings
        assert store.counts()["articles"] == 5
        assert sorted(r["status"] for r in store.runs()) == ["completed", "completed"]


def test_a_run_that_finds_the_store_busy_exits_with_a_clear_message(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store, store.run_lock():
        started = time.monotonic()
        busy = _night_process(tmp_path, "second")
        _, error = busy.communicate(timeout=120)
        assert busy.returncode == 3
        assert "another storythreads run (pid" in error and str(tmp_path) in error and "--lock-wait" in error
        assert time.monotonic() - started < 60
        assert store.counts()["articles"] == 0


def test_a_waiting_run_proceeds_once_the_lock_is_released(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    with store.run_lock():
        waiting = _night_process(tmp_path, "waiting", "--lock-wait", "120")
        time.sleep(3)
        assert waiting.poll() is None, "the second run should still be waiting"
    out, error = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, error
    assert store.check() == [] and store.counts()["articles"] == 5
    store.close()


def test_index_that_disagrees_with_the_store_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    encoder = LexicalEncoder()
    seeds = read_articles([SEEDS]).articles
    with Store.open(tmp_path) as store:
        run_night(store, [a for a in seeds if a.id != WIRE_PAIR[1]], encoder, "one", datetime(2026, 11, 23, 2))
        # an index file from elsewhere: more vectors than the store has
        other = tmp_path / "other"
        with Store.open(other) as elsewhere:
            extra = [article(f"extra{i}", vocabulary(i), datetime(2026, 11, 22), i) for i in range(5)]
            run_night(elsewhere, seeds + extra, encoder, "x", datetime(2026, 11, 23, 2))
        Path(index_path(store, encoder, "passage")).write_bytes(
            Path(index_path(elsewhere, encoder, "passage")).read_bytes()
        )
        result = run_night(store, seeds, encoder, "two", datetime(2026, 11, 23, 3))
        assert "rebuilding it" in caplog.text
        assert [(p.article_a, p.article_b) for p in result.pairs] == [WIRE_PAIR]


def test_flow_killed_mid_run_is_completed_by_the_next_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    home = tmp_path / "home"
    command = [sys.executable, "-m", "flows.cli", "run", str(SEEDS), "--home", str(home), "--encoder", "lexical"]
    env = {**os.environ, FAULT_ENV: "embed passages"}
    with open(tmp_path / "killed.log", "w") as log:
        # its own session, so that anything of it left behind is killed too
        killed = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            killed.wait(timeout=300)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(killed.pid, signal.SIGKILL)
    assert killed.returncode == -9, (tmp_path / "killed.log").read_text()
    assert not (home / "reports" / "latest" / "report.json").exists()

    result = CliRunner().invoke(app, ["run", str(SEEDS), "--home", str(home), "--encoder", "lexical"])
    assert result.exit_code == 0, result.output
    with Store.open(home) as store:
        assert store.check() == []
        assert [r["status"] for r in store.runs()] == ["interrupted", "completed"]
    report = (home / "reports" / "latest" / "report.json").read_text(encoding="utf-8")
    assert WIRE_PAIR[0] in report and '"near_duplicate": 1' in report


def test_processes_opening_a_new_store_at_once_all_get_it(tmp_path: Path) -> None:
    opener = "import sys; from store import Store; Store.open(sys.argv[1]).close()"
    openers = [
        subprocess.Popen([sys.executable, "-c", opener, str(tmp_path)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    errors = [process.communicate(timeout=120)[1] for process in openers]
    assert [process.returncode for process in openers] == [0] * 6, errors
    with Store.open(tmp_path) as store:
        assert store.check() == []


def _session(leader: int) -> set[int]:
    """The processes of the session `leader` started (the run, Prefect's server, workers, their helpers)."""
    members = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == leader and fields[0] != "Z":  # session id; a zombie has ended already
                members.add(int(stat.parent.name))
    return members


def _command_run(folder: Path, home: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "flows.cli", "run", str(folder), "--home", str(home), "--encoder", "lexical"]
    with open(log, "w") as output:
        return subprocess.Popen(
            [*command, "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_run_stopped_during_verification_ends_with_every_helper_and_the_next_night_finishes_its_batch_once(
    stop: signal.Signals, tmp_path: Path
) -> None:
    import json

    from bench.corpus import generate
    from executor import PAUSE_ENV
    from tests.conftest import generator_texts

    generated = generate(generator_texts(), 300, seed=3, copy_share=0.2)
    batch = tmp_path / "batch"
    generated.write(batch)
    (batch / "truth.json").unlink()
    home, marker = tmp_path / "home", tmp_path / "paused"
    # verification on the worker however small the night; its first chunk waits there, mid-step
    env = {**os.environ, "STORYTHREADS_PARALLEL_FROM_CHARS": "0", PAUSE_ENV: f"verify chunk:{marker}"}
    run = _command_run(batch, home, env, tmp_path / "stopped.log")
    try:
        deadline = time.monotonic() + 240
        while not (marker.exists() and marker.read_text()) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), (tmp_path / "stopped.log").read_text()[-3000:]
        helpers = _session(run.pid) - {run.pid}
        assert int(marker.read_text()) in helpers and len(helpers) >= 2  # the worker, Prefect's server, …
        stopped_at = time.monotonic()
        run.send_signal(stop)
        run.wait(timeout=10)
        while _session(run.pid) and time.monotonic() - stopped_at < 10:
            time.sleep(0.1)
        assert _session(run.pid) == set(), "a helper of the run outlived it"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
    with Store.open(home) as store:
        assert store.check() == []

    def night(name: str, new_id: str) -> dict:
        folder = tmp_path / name
        folder.mkdir()
        text = ". ".join(" ".join(vocabulary(10 * int(new_id[-1]) + n)[:20]) for n in range(4))
        record = {"id": new_id, "title": new_id, "text": text}
        (folder / "new.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
        plain = {k: v for k, v in os.environ.items() if k != PAUSE_ENV}
        done = _command_run(folder, home, plain, tmp_path / f"{name}.log")
        assert done.wait(timeout=300) == 0, (tmp_path / f"{name}.log").read_text()[-3000:]
        return json.loads((home / "reports" / "latest" / "report.json").read_text(encoding="utf-8"))["run"]

    second = night("second", "new-1")
    # the stopped batch, once, and the new article (a group's copies analysed through its representative)
    assert second["articles_analysed"] + second["articles_in_groups"] - second["duplicate_groups"] == 301
    assert second["duplicate_groups"] >= 1
    assert night("third", "new-2")["articles_analysed"] == 1
    with Store.open(home) as store:
        assert [r["status"] for r in store.runs()] == ["interrupted", "completed", "completed"]


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


def _as_postgres_owner(*command: str) -> list[str]:
    # PostgreSQL refuses to run as root: as scripts/start-postgres.sh does, run it as the postgres user
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else list(command)


@pytest.mark.skipif(_postgres_bin() is None, reason="needs Debian's postgresql (`.ci/run` installs it)")
def test_a_database_lost_mid_run_is_said_in_a_few_lines_and_the_next_run_completes_as_a_clean_one(
    tmp_path: Path,
) -> None:
    import json
    import socket
    import tempfile

    from bench.corpus import generate
    from executor import PAUSE_ENV
    from night.stages import STAGE_NAMES
    from tests.conftest import generator_texts

    batch = tmp_path / "batch"
    generated = generate(generator_texts(), 300, seed=3, copy_share=0.2)
    generated.write(batch)
    (batch / "truth.json").unlink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tempfile.mkdtemp(prefix="storythreads-pg-lost-")  # under /tmp: the postgres user must reach it
    server = {**os.environ, "PGPORT_TEST": str(port), "PGDATA_TEST": data}

    def database(name: str) -> str:
        started = subprocess.run(
            ["bash", str(ROOT / "scripts" / "start-postgres.sh")], env=server, capture_output=True, text=True
        )
        assert started.returncode == 0, started.stderr
        create = [str(_postgres_bin() / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "storythreads", name]
        subprocess.run(_as_postgres_owner(*create), check=False, capture_output=True)
        # trust authentication takes any password: it must not be shown
        return f"postgresql+psycopg://storythreads:hunter2@127.0.0.1:{port}/{name}"

    def run(home: str, url: str, env: dict[str, str], log: Path) -> subprocess.Popen:
        command = [
            str(Path(sys.executable).with_name("storythreads")),
            "run",
            str(batch),
            "--home",
            str(tmp_path / home),
        ]
        command += ["--db", url, "--output", str(tmp_path / f"{home}-report"), "--encoder", "lexical"]
        with open(log, "w") as output:
            return subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    try:
        url = database("lost")
        marker = tmp_path / "paused"
        paused = run(
            "home", url, {**os.environ, PAUSE_ENV: f"before verify duplicates:{marker}"}, tmp_path / "lost.log"
        )
        deadline = time.monotonic() + 240
        while not (marker.exists() and marker.read_text()) and paused.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), (tmp_path / "lost.log").read_text()[-3000:]
        stop = [str(_postgres_bin() / "pg_ctl"), "-D", data, "stop", "-m", "immediate"]
        subprocess.run(_as_postgres_owner(*stop), check=True, capture_output=True)
        marker.unlink()  # the run goes on, into a database that is gone
        assert paused.wait(timeout=120) == 4
        stopped_at = time.monotonic()
        while _session(paused.pid) and time.monotonic() - stopped_at < 10:
            time.sleep(0.1)
        assert _session(paused.pid) == set(), "a helper of the run outlived it"
        terminal = (tmp_path / "lost.log").read_text()
        flat = " ".join(terminal.split())
        assert len(terminal.strip().splitlines()) <= 20, terminal
        assert f"the store's database postgresql+psycopg://storythreads:***@127.0.0.1:{port}/lost failed" in flat
        assert "during the stage 'verify duplicates'" in flat and "verify duplicates" in STAGE_NAMES
        assert "next run" in flat and "hunter2" not in terminal and "INSERT" not in terminal
        log_file = Path(flat.split("The traceback is in ")[1].split(" ")[0])
        logged = log_file.read_text(encoding="utf-8")
        assert "Traceback" in logged and "OperationalError" in logged and "hunter2" not in logged

        url = database("lost")  # the server again, on the same data
        again = run("home", url, os.environ.copy(), tmp_path / "again.log")
        assert again.wait(timeout=300) == 0, (tmp_path / "again.log").read_text()[-3000:]
        clean = run("clean", database("clean"), os.environ.copy(), tmp_path / "clean.log")
        assert clean.wait(timeout=300) == 0, (tmp_path / "clean.log").read_text()[-3000:]

        def pairs(home: str) -> dict:
            report = json.loads((tmp_path / f"{home}-report" / "report.json").read_text(encoding="utf-8"))
            return {tuple(p["articles"]): (p["kind"], p["score"]) for p in report["duplicates"]}

        assert pairs("home") == pairs("clean") and len(pairs("clean")) >= 20
    finally:
        stop = [str(_postgres_bin() / "pg_ctl"), "-D", data, "stop", "-m", "immediate"]
        subprocess.run(_as_postgres_owner(*stop), check=False, capture_output=True)
        subprocess.run(["rm", "-rf", data], check=False)
