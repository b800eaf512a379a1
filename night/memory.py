"""This process's resident memory, and its peak since a mark: what each stage of a run costs in memory.

Read from Linux's `/proc/self`; writing 5 to `clear_refs` resets the peak (`VmHWM`) to the current
size, so a stage's peak is its own, not an earlier stage's. Elsewhere both give None.
"""

from __future__ import annotations

import os
import re
import tracemalloc
from pathlib import Path

_PROC = Path("/proc/self")
_FIELD = re.compile(r"^(VmRSS|VmHWM):\s+(\d+) kB", re.MULTILINE)


def mark() -> float | None:
    """Start measuring a peak from now; returns the resident MiB now."""
    try:
        (_PROC / "clear_refs").write_text("5")
    except OSError:
        return None
    return _sizes().get("VmRSS")


def peak_since_mark() -> float | None:
    """The highest resident MiB since the last `mark` (since the process started, without one)."""
    return _sizes().get("VmHWM")


def _sizes() -> dict[str, float]:
    try:
        status = (_PROC / "status").read_text()
    except OSError:
        return {}
    return {name: round(int(kib) / 1024, 1) for name, kib in _FIELD.findall(status)}


TRACE_VARIABLE = "STORYTHREADS_TRACE_MEMORY"
"""Stage names (comma-separated, or `all`) whose Python allocations are traced: the peak a stage itself
allocated, which the resident size hides when the stage reuses memory earlier stages freed. Tracing slows
the stages it traces."""


def traced(stage: str) -> bool:
    """Whether `stage` is to be traced (see `TRACE_VARIABLE`)."""
    names = {name.strip() for name in os.environ.get(TRACE_VARIABLE, "").split(",")}
    return stage in names or "all" in names


def start_tracing() -> None:
    tracemalloc.start()


def traced_peak() -> float:
    """The peak MiB allocated since `start_tracing`; tracing stops."""
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return round(peak / 2**20, 1)


def traced_so_far() -> float | None:
    """The peak MiB allocated since `start_tracing`, tracing going on (None when nothing is traced)."""
    if not tracemalloc.is_tracing():
        return None
    return round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
