"""Where `storythreads run` spends its time, stage by stage: py-spy's samples of the run and its workers.

    python -m bench.profile --articles 10000 --documents ../shared/data/reuse-dev

Generates `--articles` Arabic articles with planted copies (`bench.corpus`), then runs
`py-spy record --subprocesses --nonblocking --format raw` around `storythreads run` on them (a new
process, as a user runs it; py-spy must be installed: `pip install py-spy`). Each sample's stack is
put under the stage whose function (`night/stages.py`) it holds, "outside the stages" otherwise
(start-up, imports, Prefect, and threads a stage starts, such as the report's page writers), or
under Prefect's temporary server or the worker processes; for each part of 2 s or more the
frames below the stage that hold most samples (inclusive) and that were running (innermost) are listed. Writes
`bench/results/profile-N.txt` (the tables, with the command, date and commit) and prints it.

    python -m bench.profile --articles 1000 --seed 7 --onto /tmp/perf-100k/home

profiles a later night instead: `--articles` new articles (ids prefixed `later-`) run onto a copy of a
store a run left (e.g. `bench.perf --articles 100000 --keep --work /tmp/perf-100k`), and onto a copy of
the `report` folder beside it if there is one (as a nightly job writes into last night's folder), written
to `bench/results/profile-later-night-N.txt`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from bench.corpus import add_night_options, write_night
from bench.run import BENCH_ENVIRONMENT, STORYTHREADS
from night.stages import STAGES

RESULTS = Path(__file__).parent / "results"
RATE = 20
"""Samples a second."""
TOP = 12
_FRAME = re.compile(r"^(?P<function>.+) \((?P<file>[^:()]+)(?::\d+)?\)$")


OUTSIDE, SERVER, WORKERS = "outside the stages", "Prefect's temporary server", "worker processes"


def placed(frames: Sequence[str]) -> tuple[str, list[str]]:
    """The part of the run a sampled stack (py-spy's frames, the run's process first) belongs to, and its
    frames from there on: below the stage's function for a stage."""
    subprocess_frame = next((f for f in frames[1:] if f.startswith("process ")), None)
    if subprocess_frame is not None:
        return (SERVER if "uvicorn" in subprocess_frame else WORKERS), frames[frames.index(subprocess_frame) + 1 :]
    functions = {stage.run.__name__: stage.name for stage in STAGES}
    for index, frame in enumerate(frames):
        found = _FRAME.match(frame)
        if found and found["file"].endswith("stages.py") and found["function"] in functions:
            return functions[found["function"]], frames[index + 1 :]
    return OUTSIDE, frames[1:]


def frame_name(frame: str) -> str:
    """A frame without its line number: `function (file)`."""
    found = _FRAME.match(frame)
    return f"{found['function']} ({found['file']})" if found else frame


def aggregate(lines: Iterable[str]) -> dict[str, dict[str, Counter[str]]]:
    """Per part of the run: samples in all (`total`), by frame inclusive (`inclusive`) and by innermost
    frame (`self`)."""
    parts: dict[str, dict[str, Counter[str]]] = defaultdict(
        lambda: {"total": Counter(), "inclusive": Counter(), "self": Counter()}
    )
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        part, frames = placed(stack.split(";"))
        count = int(count_text)
        parts[part]["total"]["samples"] += count
        for name in dict.fromkeys(frame_name(frame) for frame in frames):
            parts[part]["inclusive"][name] += count
        if frames:
            parts[part]["self"][frame_name(frames[-1])] += count
    return parts


def render(stages: dict[str, dict[str, Counter[str]]], header: Sequence[str]) -> str:
    order = [stage.name for stage in STAGES] + [OUTSIDE, SERVER, WORKERS]
    lines = [f"# {line}" for line in header] + ["", "| stage | seconds sampled |", "| --- | --- |"]
    lines += [f"| {name} | {stages[name]['total']['samples'] / RATE:.1f} |" for name in order if name in stages]
    slowest = sorted((name for name in order if name in stages), key=lambda n: -stages[n]["total"]["samples"])
    for name in [n for n in slowest if stages[n]["total"]["samples"] >= 2 * RATE]:
        for kind in ("inclusive", "self"):
            lines += ["", f"--- {name}: top {kind} (seconds)"]
            lines += [f"{count / RATE:8.1f}  {frame}" for frame, count in stages[name][kind].most_common(TOP)]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_night_options(parser)
    parser.add_argument(
        "--onto",
        type=Path,
        help="a store's home (e.g. a benchmark's, kept with `bench.perf --keep`): profile a later night of "
        "--articles new articles run onto a copy of it, not a first night",
    )
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    work = Path(tempfile.mkdtemp(prefix=f"storythreads-profile-{args.articles}-"))
    try:
        write_night(work / "night", args.documents, args.articles, args.seed, "later-" if args.onto else "")
        run = [str(STORYTHREADS), "run", str(work / "night"), "--home", str(work / "home"), "--encoder", "lexical"]
        if args.onto:
            shutil.copytree(args.onto, work / "home")
            # the report folder beside a kept benchmark's home: a nightly job's pages unchanged since are linked
            if (args.onto.parent / "report").is_dir():
                shutil.copytree(args.onto.parent / "report", work / "report", symlinks=True)
                run += ["--output", str(work / "report")]
        record = [py_spy, "record", "--subprocesses", "--nonblocking", "-r", str(RATE), "--format", "raw"]
        environment = {**os.environ, **BENCH_ENVIRONMENT}
        subprocess.run([*record, "-o", str(work / "profile.raw"), "--", *run], check=True, env=environment)
        stages = aggregate((work / "profile.raw").read_text(encoding="utf-8").splitlines())
    finally:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        shutil.rmtree(work, ignore_errors=True)
    onto = f" onto a copy of the store in {args.onto}" if args.onto else ""
    command = f"python -m bench.profile --articles {args.articles} --seed {args.seed}" + (
        f" --onto {args.onto}" if args.onto else ""
    )
    header = [
        f"py-spy profile of `storythreads run` on {args.articles:,} generated articles{onto} (lexical encoder)",
        f"{command}  (py-spy record --subprocesses --nonblocking -r {RATE})",
        f"{datetime.now():%Y-%m-%d %H:%M}, commit {commit}, {os.cpu_count()} cores",
    ]
    text = render(stages, header)
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / (f"profile-later-night-{args.articles}.txt" if args.onto else f"profile-{args.articles}.txt")
    target.write_text(text, encoding="utf-8")
    print(text)
    print(f"written: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
