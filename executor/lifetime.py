"""Helper processes that end with the run's process, however it ends (even SIGKILL, which runs no clean-up).

Linux's parent-death signal: the kernel sends a signal to a process when the thread that started it ends.
Dask's worker processes watch their parent themselves (`distributed.process`); a plain subprocess such as
Prefect's temporary server is given this.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def ending_with(parent: int) -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen` (called from the thread that lives as long as `parent`, its main
    thread): the child is killed when `parent` ends, and ends at once if `parent` already has. None where
    the system has no such signal."""
    if not sys.platform.startswith("linux"):
        return None

    def end_with_parent() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # it ended before the signal was asked for
            os._exit(1)

    return end_with_parent
