"""Fault injection for the crash tests: a run may be told to kill itself at a named checkpoint."""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)


FAULT_ENV = "STORYTHREADS_FAULT_AFTER"
"""Fault injection for the crash tests: the process kills itself (SIGKILL) at the checkpoint named here."""


def checkpoint(name: str) -> None:
    """A point where a crash test may kill the run: after each stage, and between a stage's store writes."""
    if os.environ.get(FAULT_ENV) == name:
        log.warning("fault injection: killing this run at %r", name)
        os.kill(os.getpid(), signal.SIGKILL)
