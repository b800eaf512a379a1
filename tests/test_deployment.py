"""The nightly deployment on a real Prefect server: schedule, a triggered run, its artifacts, the UI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import dump_dom
from tests.cdp import Page
from tests.conftest import ROOT, SEEDS, WIRE_PAIR

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(check, timeout: float, what: str, process: subprocess.Popen | None = None):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode}")
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """`prefect server start` on a free loopback port, with its own home and database; yields (API URL, env)."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }
    log = open(home / "server.log", "w")  # noqa: SIM115 - kept open for the server's lifetime
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        _wait_for(healthy, 120, "the Prefect server to answer", server)
        yield env["PREFECT_API_URL"], env
    finally:
        _stop(server)
        log.close()


def test_nightly_deployment_is_scheduled_runs_and_shows_in_the_ui(
    prefect_server: tuple[str, dict[str, str]], tmp_path: Path, chromium: str
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    api_url, env = prefect_server
    inbox, home = tmp_path / "inbox", tmp_path / "home"
    shutil.copytree(SEEDS, inbox)
    serve_log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
    serving = subprocess.Popen(
        [
            str(BIN / "storythreads"),
            "serve",
            "--inbox",
            str(inbox),
            "--cron",
            "0 2 * * *",
            "--timezone",
            "Asia/Amman",
            "--home",
            str(home),
            "--encoder",
            "lexical",
        ],
        cwd=ROOT,
        env={**env, "STORYTHREADS_HOME": str(home)},
        stdout=serve_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:

            def deployment():  # noqa: ANN202
                try:
                    return client.read_deployment_by_name("storythreads/nightly")
                except Exception:  # noqa: BLE001 - not registered yet
                    return None

            nightly = _wait_for(deployment, 90, "the deployment to be registered", serving)
            (schedule,) = nightly.schedules
            assert schedule.schedule.cron == "0 2 * * *"
            assert schedule.schedule.timezone == "Asia/Amman"
            assert schedule.active
            assert nightly.parameters["paths"] == [str(inbox.resolve())]

            flow_run = client.create_flow_run_from_deployment(nightly.id)

            def finished():  # noqa: ANN202
                state = client.read_flow_run(flow_run.id).state
                return state if state is not None and state.is_final() else None

            state = _wait_for(finished, 180, "the triggered run to finish", serving)
            assert state.is_completed(), (tmp_path / "serve.log").read_text()
            artifacts = {
                a.key: a
                for a in client.read_artifacts(
                    artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]))
                )
            }
    finally:
        _stop(serving)
        serve_log.close()

    rows = artifacts["storythreads-new-duplicates"].data
    rows = json.loads(rows) if isinstance(rows, str) else rows
    assert [(r["article_a"], r["article_b"]) for r in rows] == [WIRE_PAIR]
    assert "ووستر" in artifacts["storythreads-report"].data
    where = artifacts["storythreads-html-report"].data
    assert "file://" not in where  # the UI would show a link no browser follows
    report_path = Path(where.split("`")[1])
    assert report_path.is_file() and home in report_path.parents

    # the Prefect UI page of that run, rendered by a real browser
    ui_page = api_url.removesuffix("/api") + f"/runs/flow-run/{flow_run.id}"
    dom = dump_dom(chromium, ui_page, budget_ms=20000)
    assert flow_run.name in dom, dom[-2000:]
    assert "Completed" in dom and "storythreads" in dom
    # and the HTML report the run wrote
    report_dom = dump_dom(chromium, report_path.as_uri())
    assert flow_run.name in report_dom and WIRE_PAIR[1] in report_dom

    # the Markdown report as the Prefect UI shows it: each side of each Arabic quote a right-to-left paragraph
    artifact_page = api_url.removesuffix("/api") + f"/artifacts/artifact/{artifacts['storythreads-report'].id}"
    with Page(chromium) as page:
        page.open(artifact_page)
        sides = page.wait_for(
            """[...document.querySelectorAll('.artifact-data-markdown p')]
                 .filter(p => /^[AB] «/.test(p.textContent))
                 .map(p => [p.textContent.slice(0, 1), getComputedStyle(p).direction, p.textContent.slice(3)])"""
        )
        if os.environ.get("STORYTHREADS_SCREENSHOTS"):  # `docs/screenshots` is made this way
            page.screenshot(Path(os.environ["STORYTHREADS_SCREENSHOTS"]) / "prefect-artifact.png")
    assert len(sides) >= 6 and [side for side, _, _ in sides] == ["A", "B"] * (len(sides) // 2)
    assert all(shown == "rtl" for _, shown, _ in sides)
    assert any("ربما من دولة ثالثة" in text for _, _, text in sides)


def test_prefect_yaml_deploys_to_a_process_work_pool(
    prefect_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    api_url, env = prefect_server
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = {**env, "STORYTHREADS_INBOX": str(inbox), "PWD": str(ROOT)}
    for command in (
        ["work-pool", "create", "storythreads", "--type", "process"],
        ["--no-prompt", "deploy", "--name", "nightly-pool"],
    ):
        done = subprocess.run([str(BIN / "prefect"), *command], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("storythreads/nightly-pool")
    assert deployment.work_pool_name == "storythreads"
    assert deployment.parameters == {"paths": [str(inbox)]}
    assert [s.schedule.cron for s in deployment.schedules] == ["0 2 * * *"]
    assert deployment.entrypoint == "flows/pipeline.py:storythreads_flow"


def test_serve_stops_cleanly_on_ctrl_c(prefect_server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    api_url, env = prefect_server
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as serve_log:
        serving = subprocess.Popen(
            [str(BIN / "storythreads"), "serve", "--inbox", str(tmp_path / "inbox"), "--name", "ctrl-c"],
            cwd=ROOT,
            env={**env, "STORYTHREADS_HOME": str(tmp_path / "home")},
            stdout=serve_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # as from a terminal: a test suite started in the background (`cmd &`) passes Ctrl-C on ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            _wait_for(lambda: "being served" in log_path.read_text(), 90, "serve to start", serving)
            # Ctrl-C in a terminal reaches the whole process group; an impatient user presses it twice
            os.killpg(serving.pid, signal.SIGINT)
            time.sleep(0.3)
            os.killpg(serving.pid, signal.SIGINT)
            code = serving.wait(30)
        finally:
            _stop(serving)
    said = log_path.read_text()
    assert code == 0, said
    assert "stopped serving storythreads/ctrl-c" in " ".join(said.split())
    assert "Traceback" not in said and "never awaited" not in said, said


def test_feeds_served_nightly_are_read_each_night_and_must_be_http_urls(tmp_path: Path) -> None:
    from flows.deployment import nightly_deployment

    deployment = nightly_deployment(tmp_path, feeds=["https://example.com/rss.xml"])
    assert deployment.parameters["paths"] == [str(tmp_path.resolve()), "https://example.com/rss.xml"]
    with pytest.raises(ValueError, match="feed 'file:///srv/rss.xml' is not an http"):
        nightly_deployment(tmp_path, feeds=["file:///srv/rss.xml"])


def test_a_served_run_cancelled_in_prefect_during_verification_ends_within_ten_seconds(
    prefect_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import Cancelling

    from bench.corpus import generate
    from executor import PAUSE_ENV
    from tests.conftest import generator_texts
    from tests.test_reliability import _session

    api_url, env = prefect_server
    inbox, home, marker = tmp_path / "inbox", tmp_path / "home", tmp_path / "paused"
    generate(generator_texts(), 300, seed=4, copy_share=0.2).write(inbox)
    (inbox / "truth.json").unlink()
    run_env = {
        **env,
        "STORYTHREADS_HOME": str(home),
        "STORYTHREADS_WORKERS": "1",
        "STORYTHREADS_PARALLEL_FROM_CHARS": "0",  # verification on the worker, where its first chunk waits
        PAUSE_ENV: f"verify chunk:{marker}",
    }
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as serve_log:
        serving = subprocess.Popen(
            [str(BIN / "storythreads"), "serve", "--inbox", str(inbox), "--name", "cancel", "--encoder", "lexical"],
            cwd=ROOT,
            env=run_env,
            stdout=serve_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
                deployment = _wait_for(
                    lambda: _deployment(client, "storythreads/cancel"), 90, "the deployment", serving
                )
                flow_run = client.create_flow_run_from_deployment(deployment.id)
                _wait_for(lambda: marker.exists() and marker.read_text(), 240, "verification to start", serving)
                run_processes = _session(serving.pid) - {serving.pid}
                assert int(marker.read_text()) in run_processes
                client.set_flow_run_state(flow_run.id, Cancelling(), force=True)
                cancelled_at = time.monotonic()

                def ended():  # noqa: ANN202
                    state = client.read_flow_run(flow_run.id).state
                    gone = not (run_processes & _session(serving.pid))
                    return gone and state is not None and state.type == StateType.CANCELLED

                _wait_for(ended, 30, "the cancelled run to end", serving)
                assert time.monotonic() - cancelled_at < 10, log_path.read_text()[-3000:]
                assert serving.poll() is None, "serve goes on serving"
        finally:
            _stop(serving)


def _deployment(client, name: str):  # noqa: ANN001, ANN202
    try:
        return client.read_deployment_by_name(name)
    except Exception:  # noqa: BLE001 - not registered yet
        return None
