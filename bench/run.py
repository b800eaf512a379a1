"""Runs what a user runs, as a new process, and measures it: `storythreads run`, and the peer's script.

Every benchmark figure comes from here: the wall time of the whole process (Python start,
imports, Prefect's start, the store, the reports and the artifacts included), the peak
resident memory of the process with every process it started (sampled), and for our runs the
`report.json` the run wrote, with its own stage split under `run.stages`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.report import reported_pairs

STORYTHREADS = Path(sys.executable).with_name("storythreads")
BENCH_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


@dataclass
class TimedProcess:
    """One command run to completion: its wall seconds and the peak memory of its process tree (sampled), and
    of its largest single process as `/usr/bin/time -v` reports it (None where that tool is missing)."""

    command: list[str]
    seconds: float
    peak_mib: float
    returncode: int
    output: str = ""
    max_resident_mib: float | None = None


@dataclass
class TimedRun(TimedProcess):
    """A `storythreads run`, with the report it wrote."""

    report: dict[str, Any] = field(default_factory=dict)

    @property
    def reported_with_helpers_mib(self) -> float | None:
        """The run's own figure for itself and its helpers (`run.peak_memory_with_helpers_mib`)."""
        return self.report.get("run", {}).get("peak_memory_with_helpers_mib")

    @property
    def largest_stage_peak_mib(self) -> float | None:
        """The largest stage peak the run's report gives (`run.memory_mib`)."""
        peaks = [sizes.get("peak") for sizes in self.report.get("run", {}).get("memory_mib", {}).values()]
        known = [peak for peak in peaks if peak is not None]
        return max(known) if known else None

    @property
    def stages(self) -> dict[str, float]:
        """Seconds of each stage, from the run's own report."""
        return dict(self.report.get("run", {}).get("stages", {}))

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The duplicate pairs the run reported, as (a, b) ids: those listed, and those its duplicate groups imply."""
        return list(reported_pairs(self.report)) if self.report else []

    @property
    def threads(self) -> dict[str, str]:
        """Article id -> thread id, for articles in a thread of two or more."""
        return {a: t["id"] for t in self.report.get("threads", []) for a in t["articles"]}


def timed_process(
    command: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> TimedProcess:
    """Run `command`, timing it from start to exit and sampling the resident memory of its process tree."""
    environment = {**os.environ, **BENCH_ENVIRONMENT, **(env or {})}
    with tempfile.TemporaryDirectory(prefix="storythreads-time-") as folder:
        measured = Path(folder) / "time-v.txt"
        wrapper = [TIME, "-v", "-o", str(measured)] if Path(TIME).is_file() else []
        started = time.perf_counter()
        process = subprocess.Popen(
            [*wrapper, *command], env=environment, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        sampler = _TreeMemory(process.pid)
        sampler.start()
        output, _ = process.communicate()
        seconds = time.perf_counter() - started
        sampler.stop()
        resident = _max_resident_mib(measured)
    return TimedProcess(list(command), seconds, sampler.peak_mib, process.returncode, output, resident)


TIME = "/usr/bin/time"
"""GNU time: its `-v` reports the largest resident size of the command's processes (the kernel's high-water mark)."""


def _max_resident_mib(report: Path) -> float | None:
    try:
        text = report.read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return round(int(found.group(1)) / 1024, 1) if found else None


def storythreads_run(
    paths: Sequence[Path | str], home: Path, output: Path, *options: str, env: Mapping[str, str] | None = None
) -> TimedRun:
    """`storythreads run PATHS --home HOME --output OUTPUT OPTIONS` in a new process, as a user starts it."""
    command = [str(STORYTHREADS), "run", *map(str, paths), "--home", str(home), "--output", str(output), *options]
    done = timed_process(command, env)
    if done.returncode != 0:
        raise RuntimeError(f"storythreads run exited {done.returncode}:\n{done.output[-4000:]}")
    report = json.loads((output / "report.json").read_text(encoding="utf-8"))
    return TimedRun(
        done.command, done.seconds, done.peak_mib, done.returncode, done.output, done.max_resident_mib, report
    )


def stage_line(run: TimedRun) -> str:
    """`stage s, …` and what the stages leave unaccounted (start-up, imports, Prefect, writing, printing)."""
    stages = run.stages
    rest = run.seconds - sum(stages.values())
    parts = [f"{name} {seconds:.1f}" for name, seconds in stages.items()]
    return ", ".join([*parts, f"outside the stages {rest:.1f}"])


class _TreeMemory:
    """Peak summed resident memory of a process and all its descendants, sampled every `interval` s."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mib = max(self.peak_mib, sum(_rss_mib(pid) for pid in _tree(self.pid)))


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)
