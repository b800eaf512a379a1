"""A run that the machinery under it let down: the database, the Dask cluster or the disk, said in a few lines.

Such a failure is no bug of the run and no fault of the articles: the message names what failed (the
database URL without its password, the cluster's address, the path), the stage it stopped in, that nothing
is lost (store writes are transactions, files are renamed into place) and that the next run resumes. The
traceback goes to the run's log file (`run_log`), and to the terminal with `--verbose`.
"""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from executor.dask import cluster_failure
from night.run import STAGE_ATTRIBUTE
from store import database_failure, shown_url

DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}
"""Errors of a file system that fails a run: full, over quota, broken, or mounted read-only."""
LOG_ATTRIBUTE = "storythreads_log"
"""Set on an exception that ended a run: the path of the run's log file, which holds its traceback."""
KEPT_LOGS = 60
"""Run log files kept in `<home>/logs`: the newest; older ones are removed as a run starts."""


@dataclass(frozen=True)
class InfrastructureFailure:
    """What failed under a run, why, and in which stage."""

    what: str
    reason: str
    stage: str | None
    log_file: str | None

    def lines(self) -> list[str]:
        """The message: what failed and where, that nothing is lost, where the traceback is."""
        where = f" during the stage '{self.stage}'" if self.stage else ""
        lines = [
            f"{self.what} failed{where}: {self.reason}",
            "Nothing is lost: what the run stored stays, and the next run (the same command, once this is "
            "mended) resumes from there.",
        ]
        if self.log_file:
            lines.append(f"The traceback is in {self.log_file} (or run again with --verbose).")
        return lines


def infrastructure_failure(
    error: BaseException, database: str | None = None, cluster: str | None = None
) -> InfrastructureFailure | None:
    """`error` as the failure of the store's `database` (URL), the Dask `cluster` (address) or a disk; None when
    it is none of those (a bug, to be shown whole)."""
    stage = getattr(error, STAGE_ATTRIBUTE, None)
    log_file = getattr(error, LOG_ATTRIBUTE, None)
    reason = database_failure(error)
    if reason is not None:
        what = f"the store's database {shown_url(database)}" if database else "the store's database"
        return InfrastructureFailure(what, reason, stage, log_file)
    reason = cluster_failure(error)
    if reason is not None:
        what = f"the Dask cluster at {cluster}" if cluster else "the run's Dask workers"
        return InfrastructureFailure(what, reason, stage, log_file)
    disk = _disk_error(error)
    if disk is not None:
        what = f"writing {disk.filename}" if disk.filename else "the disk"
        return InfrastructureFailure(what, disk.strerror or str(disk), stage, log_file)
    return None


def _disk_error(error: BaseException) -> OSError | None:
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_ERRORS:
            return current
        current = current.__cause__ or current.__context__
    return None


@contextmanager
def run_log(home: Path, started: datetime, run_id: str) -> Iterator[Path]:
    """The run's log file in `<home>/logs` while the block runs: every log record of the process from INFO on (the
    stages', Prefect's, Dask's), tracebacks included. The oldest files beyond `KEPT_LOGS` are removed."""
    folder = home / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    for old in sorted(folder.glob("*.log"))[: -KEPT_LOGS + 1 or None]:
        old.unlink(missing_ok=True)
    path = folder / f"{started:%Y-%m-%dT%H%M%S}_{re.sub(r'[^A-Za-z0-9-]', '', run_id)[:8] or 'run'}.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
