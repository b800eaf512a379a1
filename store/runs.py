"""Runs and the run lock."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from store.schema import (
    runs_table,
)

log = logging.getLogger(__name__)


class StoreBusy(RuntimeError):
    """Another run holds the store's run lock."""


class RunsMixin:
    """Runs and the run lock."""

    engine: Engine
    home: Path

    @contextmanager
    def run_lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the store's run lock (a file lock in the home folder, freed even if the process is killed).

        Waits up to `wait_seconds` for another run to finish, then raises `StoreBusy` naming it.
        """
        path = self.home / "run.lock"
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = path.read_text(encoding="utf-8").strip() or "unknown process"
                        raise StoreBusy(
                            f"another storythreads run ({holder}) is using the store in {self.home}; "
                            f"waited {wait_seconds:g} s. Let it finish, or wait longer with --lock-wait SECONDS "
                            "(STORYTHREADS_LOCK_WAIT)"
                        ) from None
                    time.sleep(0.2)
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {datetime.now().isoformat(timespec='seconds')}")
            handle.flush()
            yield
        finally:
            handle.close()  # closing the file releases the lock

    def start_run(self, run_id: str, started_at: datetime, encoder: str) -> None:
        """Record that a run began; runs still marked running were interrupted (the caller holds the lock)."""
        with self.engine.begin() as connection:
            connection.execute(update(runs_table).where(runs_table.c.status == "running").values(status="interrupted"))
            connection.execute(delete(runs_table).where(runs_table.c.id == run_id))
            connection.execute(
                insert(runs_table).values(id=run_id, started_at=started_at, encoder=encoder, status="running")
            )

    def finish_run(self, run_id: str, finished_at: datetime, summary: dict[str, Any]) -> None:
        """Record that a run completed, with its summary."""
        with self.engine.begin() as connection:
            connection.execute(
                update(runs_table)
                .where(runs_table.c.id == run_id)
                .values(finished_at=finished_at, status="completed", summary=json.dumps(summary))
            )

    def runs(self) -> list[dict[str, Any]]:
        """Every recorded run, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(runs_table).order_by(runs_table.c.started_at)).mappings().all()
        return [dict(row) | {"summary": json.loads(row["summary"]) if row["summary"] else None} for row in rows]
