"""A stage's memory peak, measured without hiding the process's own high-water mark from the operator's tools."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from night import memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")


def _touched(mib: int) -> np.ndarray:
    block = np.ones(mib * 2**20, dtype=np.uint8)  # written, so resident
    return block


def test_marking_a_stage_keeps_the_process_peak_and_a_later_smaller_stage_reports_its_own_peak() -> None:
    big = _touched(300)
    peak_before = memory.process_peak()
    del big
    memory.mark()
    assert memory.process_peak() >= peak_before - 1  # the kernel's mark is never reset: `time -v` sees it
    small = _touched(120)
    time.sleep(5 * memory.SAMPLE_SECONDS)  # the sampling thread sees the stage at its largest
    during = memory.peak_since_mark()
    del small
    assert during is not None and during < peak_before - 100  # the stage's own peak, not the earlier one
    assert during >= memory.mark() + 100  # (mark again: the size now, after freeing) and it did see the 120 MiB


def test_a_stage_that_raises_the_process_peak_reports_exactly_that_peak() -> None:
    # a new process: this one may have been larger already (the suite), and its peak cannot be raised on purpose
    import subprocess

    check = (
        "import numpy as np; from night import memory; memory.mark(); block = np.ones(400 * 2**20, np.uint8); "
        "del block; print(memory.peak_since_mark(), memory.process_peak())"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    stage, process = map(float, done.stdout.split())
    assert stage == process > 400


def test_the_peak_with_helpers_counts_a_child_process() -> None:
    import subprocess

    alone = memory.mark()
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; block = bytearray(200 * 2**20); time.sleep(3)"],
    )
    try:
        time.sleep(2)
        with_child = memory.peak_with_helpers()
        assert with_child is not None and with_child >= alone + 150
    finally:
        child.wait()
