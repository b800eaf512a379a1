"""This process's resident memory, and its peak since a mark: what each stage of a run costs in memory.

Read from Linux's `/proc/self`, without ever resetting the kernel's high-water mark (`VmHWM`): that mark is
what `/usr/bin/time -v`, `getrusage` and a scheduler's accounting report as the run's peak, so it must stay the
whole run's. A stage's peak is that mark when the stage raised it (the process was never larger before), else
the highest size a sampling thread saw during the stage (every `SAMPLE_SECONDS`), or the size at its end. The
same thread samples the processes the run started too (Prefect's temporary server, Dask's workers).
Elsewhere every figure is None.
"""

from __future__ import annotations

import os
import re
import threading
import tracemalloc
from pathlib import Path

_PROC = Path("/proc/self")
_FIELD = re.compile(r"^(VmRSS|VmHWM):\s+(\d+) kB", re.MULTILINE)
SAMPLE_SECONDS = 0.1
"""How often the sampling thread reads the resident size while a stage runs (a stage that raises the process's
peak is measured exactly however seldom: by the kernel's mark)."""


TREE_EVERY = 5
"""Samples between two readings of the helper processes' sizes (they change slowly; reading them costs more)."""


class _Sampler:
    """The highest resident size seen since the last `reset`, and of this process with the processes it started
    (Prefect's temporary server, Dask's workers) since the first, read by a daemon thread."""

    def __init__(self) -> None:
        self.highest = 0
        self.highest_with_helpers = 0
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._own: int | None = None

    def reset(self) -> None:
        with self._lock:
            self.highest = self.resident_bytes()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="storythreads-memory", daemon=True)
            self._thread.start()

    def resident_bytes(self, pid: int | str = "self") -> int:
        try:
            if pid == "self":  # read many times a second: the file is kept open
                if self._own is None:
                    self._own = os.open("/proc/self/statm", os.O_RDONLY)
                return int(os.pread(self._own, 128, 0).split()[1]) * self._page
            with open(f"/proc/{pid}/statm", "rb") as statm:
                return int(statm.read().split()[1]) * self._page
        except (OSError, ValueError, IndexError):
            return 0

    def with_helpers(self) -> int:
        """The resident size of this process and of every process it started, and they started."""
        total, todo, seen = 0, [os.getpid()], set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            total += self.resident_bytes(pid)
            for children in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    todo.extend(int(child) for child in children.read_text().split())
                except (OSError, ValueError):
                    continue
        return total

    def _run(self) -> None:
        event = threading.Event()
        count = 0
        while not event.wait(SAMPLE_SECONDS):
            size = self.resident_bytes()
            if size > self.highest:
                with self._lock:
                    self.highest = max(self.highest, size)
            if count % TREE_EVERY == 0:
                self.highest_with_helpers = max(self.highest_with_helpers, self.with_helpers())
            count += 1


_sampler = _Sampler()
_mark_high_water: float | None = None


def mark() -> float | None:
    """Start measuring a peak from now; returns the resident MiB now."""
    global _mark_high_water
    sizes = _sizes()
    if "VmRSS" not in sizes:
        return None
    _mark_high_water = sizes.get("VmHWM")
    _sampler.reset()
    return sizes["VmRSS"]


def peak_since_mark() -> float | None:
    """The highest resident MiB since the last `mark` (the process's whole peak, without one)."""
    sizes = _sizes()
    if "VmHWM" not in sizes:
        return None
    if _mark_high_water is None or sizes["VmHWM"] > _mark_high_water:
        return sizes["VmHWM"]
    return max(_mib(_sampler.highest), sizes.get("VmRSS", 0.0))


def process_peak() -> float | None:
    """The highest resident MiB of this process since it started (what `/usr/bin/time -v` reports for it)."""
    return _sizes().get("VmHWM")


def peak_with_helpers() -> float | None:
    """The highest resident MiB of this process and the processes it started together, as sampled since the first
    `mark` (what a sampler of the process tree reports); None before any."""
    if _sampler.highest_with_helpers == 0:
        return None
    return _mib(max(_sampler.highest_with_helpers, _sampler.with_helpers()))


def _mib(size: int) -> float:
    return round(size / 2**20, 1)


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
