"""A temporary Prefect API for one `storythreads run`, started before anything heavy is imported.

Without `PREFECT_API_URL`, Prefect starts its own temporary API server the moment a flow begins
and waits for it (about 4 s on two cores), after the run's imports (about 2 s). Starting the same
server — the command Prefect's `SubprocessASGIServer` runs — as the command line's first act
lets it boot on the other core while this process imports and reads; the flow then finds it
through `PREFECT_API_URL`, set here before Prefect is imported (Prefect reads its settings once,
at import). It is stopped when the process ends, after Prefect's own exit handlers have sent
their last logs and events to it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from executor.lifetime import ending_with

STARTUP_TIMEOUT_S = 60.0


class TemporaryServer:
    """A Prefect API server on a free loopback port, owned by this process."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        prefect_dir = _prefect_package_parent()
        environment = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            # registering every installed block type costs ~0.4 s a start; a run uses no block, and a
            # lasting `prefect server start` on the same database registers them itself
            "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
        }
        environment.pop("PREFECT_API_URL", None)
        command = [sys.executable, "-m", "uvicorn", "--app-dir", prefect_dir, "--factory"]
        command += ["prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--log-level", "error", "--lifespan", "on"]
        # killed with this process however it ends: an orphaned server would keep its port and database
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            command, env=environment, preexec_fn=ending_with(os.getpid())
        )
        self._checked_at = 0.0
        atexit.register(self.stop)

    def wait_until_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Block until the server answers its health check; raise naming the address if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise RuntimeError(f"the temporary Prefect server on {self.api_url} exited (status {code})")
            if self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"the temporary Prefect server on {self.api_url} did not answer within {timeout:g} s")

    def done_booting(self) -> bool:
        """Whether waiting for the server is over: it answers, or it has exited (checked at most every 50 ms).

        For a caller filling the wait with work; `wait_until_ready` then returns at once or raises.
        """
        now = time.monotonic()
        if now - self._checked_at < 0.05:
            return False
        self._checked_at = now
        return self.process is None or self.process.poll() is not None or self._answers()

    def _answers(self) -> bool:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{self.api_url}/health", timeout=1) as response,
        ):
            return bool(response.status == 200)
        return False

    def stop(self) -> None:
        """Stop the server (and wait for it, so it leaves nothing behind)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def start_if_needed() -> TemporaryServer | None:
    """Start a temporary server and point `PREFECT_API_URL` at it, unless Prefect may be configured.

    Call before Prefect is imported. Nothing is started (Prefect then starts its own temporary
    server as usual) when the environment or the active profile names an API, or when the
    working folder holds a file Prefect reads settings from (`.env`, `prefect.toml`, a
    `pyproject.toml` with `[tool.prefect]`).
    """
    if "prefect" in sys.modules or os.environ.get("PREFECT_API_URL") or _configured_api_url():
        return None
    if _settings_files_here():
        return None
    server = TemporaryServer()
    os.environ["PREFECT_API_URL"] = server.api_url
    return server


def _settings_files_here() -> bool:
    here = Path.cwd()
    if (here / ".env").exists() or (here / "prefect.toml").exists():
        return True
    pyproject = here / "pyproject.toml"
    try:
        return pyproject.is_file() and "[tool.prefect" in pyproject.read_text(encoding="utf-8")
    except OSError:
        return True


def _configured_api_url() -> str | None:
    """`PREFECT_API_URL` from Prefect's profile file, read without importing Prefect."""
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH", Path.home() / ".prefect" / "profiles.toml"))
    if not profiles.is_file():
        return None
    import tomllib

    try:
        data = tomllib.loads(profiles.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or data.get("active", "ephemeral")
    return data.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prefect_package_parent() -> str:
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    if spec is None or spec.origin is None:
        raise RuntimeError("prefect is not installed: `pip install -e .` installs it")
    return str(Path(spec.origin).parent.parent)
