"""Shared fixtures: the seed articles, their analysis, a tiny local model, Prefect, Chromium."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The tests never download: `auto` must fall back to the lexical encoder without waiting.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# nor find a model the developer set up: `auto` would pick ~/.cache/storythreads/multilingual-e5-small
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="storythreads-test-cache-")

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
WIRE_PAIR = ("000_ce02d54b5f4cf86a", "004_b98d23bcef3dc532")


def generator_texts() -> list[str]:
    """The seed texts `bench.corpus.generate` plants copies of: 004 rewrites 000, so it is left out (the
    generator's source texts must not share reporting)."""
    return [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")) if not p.name.startswith("004")]


@pytest.fixture(autouse=True)
def storythreads_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own store home: no test sees another's articles, and ~/.storythreads is never touched."""
    home = tmp_path / "storythreads-home"
    monkeypatch.setenv("STORYTHREADS_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def no_log_handler_left_on_a_closed_stream() -> Iterator[None]:
    """A CliRunner invocation in which Prefect sets up its logging leaves Prefect's console handler on the
    invocation's stderr, closed when it ends: a later invocation's flow would fail logging to it
    (tests/test_compare.py after tests/test_reliability.py, on their own). Such handlers are removed."""
    yield
    loggers = [logging.getLogger(), *logging.root.manager.loggerDict.values()]
    for logger in loggers:
        for handler in list(getattr(logger, "handlers", [])):
            if getattr(getattr(handler, "stream", None), "closed", False):
                logger.removeHandler(handler)


@pytest.fixture(scope="session", autouse=True)
def prefect_servers_stopped_before_exit() -> Iterator[None]:
    """Prefect stops the temporary API servers it started (for a flow run outside the harness) at interpreter
    exit, logging as it does so to a console handler bound to pytest's captured stream, closed by then: a
    `--- Logging error ---` after the suite's summary. They are stopped here, at the end of the session."""
    yield
    if "prefect.server.api.server" in sys.modules:
        from prefect.server.api.server import SubprocessASGIServer

        for server in list(SubprocessASGIServer._instances.values()):
            server.stop()


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def seed_prepared():
    from corpus.prepare import prepare_articles
    from corpus.readers import read_articles

    return prepare_articles(read_articles([SEEDS]).articles)


@pytest.fixture(scope="session")
def seed_analysis():
    """Every stage of a run on the seeds, against a temporary store (`tests.batch`)."""
    from corpus.readers import read_articles
    from tests.batch import analyse

    return analyse(read_articles([SEEDS]).articles)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    """A sentence-transformers model trained on nothing but the seeds' vocabulary."""
    from bench.tiny_model import build_tiny_model

    texts = [path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt"))]
    return build_tiny_model(texts, tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect API (with its own database) for the whole test session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory) -> str:
    """The address of a Dask scheduler with two worker processes on loopback, each a separate process.

    `.ci/run` starts them (`scripts/start-dask-cluster.sh`) and passes the address in
    `STORYTHREADS_TEST_DASK_CLUSTER`; without it, this session starts its own and stops them at the end.
    """
    import signal
    import socket
    import subprocess

    given = os.environ.get("STORYTHREADS_TEST_DASK_CLUSTER")
    if given:
        yield given
        return
    logs = tmp_path_factory.mktemp("dask")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "DASK_PORT_TEST": str(port), "DASK_LOGS_TEST": str(logs)}
    started = subprocess.run(
        ["bash", str(ROOT / "scripts" / "start-dask-cluster.sh")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    pids = [int(pid) for pid in (logs / "pids").read_text().split()] if (logs / "pids").exists() else []
    try:
        assert started.returncode == 0, f"the Dask cluster did not start: {started.stderr[-2000:]}"
        yield started.stdout.strip().splitlines()[-1]
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's chromium; skipped on a laptop without it, a failure in CI."""
    path = shutil.which("chromium")
    if path is None:
        message = "chromium is not installed: run `make test` (it installs it) or `apt-get install chromium`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


POSTGRES_HOW = (
    "set STORYTHREADS_TEST_POSTGRES_URL to run the store tests on PostgreSQL too, e.g. "
    "`export STORYTHREADS_TEST_POSTGRES_URL=$(scripts/start-postgres.sh)` (`.ci/run` does this)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """An empty store: SQLite in a temporary home, and the same tests again on a real PostgreSQL."""
    from sqlalchemy import create_engine

    from store import Store, metadata

    url = None
    if request.param == "postgresql":
        url = os.environ.get("STORYTHREADS_TEST_POSTGRES_URL")
        if not url:
            if os.environ.get("CI"):
                pytest.fail("STORYTHREADS_TEST_POSTGRES_URL is unset in CI; " + POSTGRES_HOW)
            pytest.skip(POSTGRES_HOW)
        engine = create_engine(url)
        metadata.drop_all(engine)
        engine.dispose()
    opened = Store.open(tmp_path / "home", url)
    yield opened
    opened.close()


PAN_SOURCE = (
    "تأسست الجمعية الوطنية لحماية البيئة في مطلع الثمانينيات على يد مجموعة من العلماء والناشطين. "
    "وقد عملت الجمعية منذ ذلك الحين على رصد التلوث في الأنهار والبحيرات ونشر تقارير سنوية عن حالة المياه. "
    "كما أطلقت برامج توعية في المدارس لتعليم الطلاب أهمية الحفاظ على الموارد الطبيعية وترشيد استهلاك الطاقة."
)


@pytest.fixture
def pan_corpus(tmp_path: Path) -> Path:
    """A PAN-format corpus: one suspicious document reusing one of two sources, annotated."""
    (tmp_path / "suspicious-documents").mkdir()
    (tmp_path / "source-documents").mkdir()
    (tmp_path / "plagiarism-annotation").mkdir()
    filler = "يتناول هذا التقرير تاريخ المدينة القديمة وأسواقها الشعبية وحرفها التقليدية التي توارثتها الأجيال. " * 3
    source = "مقدمة عامة عن المنظمات الأهلية في المنطقة العربية ودورها.\n" + PAN_SOURCE + "\nخاتمة."
    suspicious = filler + PAN_SOURCE + " " + filler
    (tmp_path / "source-documents" / "source-document00001.txt").write_text(source, encoding="utf-8")
    unrelated = "فاز الفريق المحلي بالبطولة بعد مباراة نهائية مثيرة حضرها آلاف المشجعين في الملعب الكبير. " * 3
    (tmp_path / "source-documents" / "source-document00002.txt").write_text(unrelated, encoding="utf-8")
    (tmp_path / "suspicious-documents" / "suspicious-document0001.txt").write_text(suspicious, encoding="utf-8")
    (tmp_path / "plagiarism-annotation" / "suspicious-document0001.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<document reference="suspicious-document0001.txt">\n'
        f'<feature name="plagiarism" this_offset="{len(filler)}" this_length="{len(PAN_SOURCE)}" '
        f'source_reference="source-document00001.txt" source_offset="{source.index(PAN_SOURCE)}" '
        f'source_length="{len(PAN_SOURCE)}" obfuscation="none" type="artificial"/>\n</document>\n',
        encoding="utf-8",
    )
    return tmp_path
