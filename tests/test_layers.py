"""The packages depend one way, from text to orchestration:
executor <- corpus <- embeddings <- clustering <- store <- reports <- night <- flows.

Only the store imports SQLAlchemy, only flows/ imports Prefect, only executor/ imports Dask (and
flows/ prefect-dask), nothing imports flows/,
clustering/ and embeddings/ import neither the store nor the orchestration, and reports/
never reaches the database.
"""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

LAYERS = ["executor", "corpus", "embeddings", "clustering", "store", "reports", "night", "flows"]
OUTSIDE = ["bench", "tests"]


def _imported_top_levels(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("position", range(len(LAYERS)))
def test_a_layer_imports_only_the_layers_below_it(position: int) -> None:
    package, above = LAYERS[position], set(LAYERS[position + 1 :])
    for path, names in _imported_top_levels(package).items():
        assert not names & above, f"{path} imports {sorted(names & above)}, a layer above {package}"


@pytest.mark.parametrize("package", LAYERS + OUTSIDE)
def test_only_the_store_imports_sqlalchemy_and_only_flows_imports_prefect(package: str) -> None:
    for path, names in _imported_top_levels(package).items():
        if package != "store" and package != "tests":  # the tests' PostgreSQL fixture drops tables itself
            assert "sqlalchemy" not in names, f"{path} imports sqlalchemy; only store/ may"
        if package not in ("flows", "tests"):
            assert "prefect" not in names, f"{path} imports prefect; only flows/ may"
            assert "prefect_dask" not in names, f"{path} imports prefect_dask; only flows/ may"
        if package not in ("executor", "tests"):
            assert not names & {"dask", "distributed"}, f"{path} imports Dask; only executor/ may"


@pytest.mark.parametrize("package", [p for p in LAYERS + OUTSIDE if p not in ("flows", "tests")])
def test_nothing_imports_flows(package: str) -> None:
    for path, names in _imported_top_levels(package).items():
        assert "flows" not in names, f"{path} imports flows/; the flow is the top, nothing may depend on it"


def test_the_stage_order_is_written_once() -> None:
    """Only `night/stages.py` lists the stages; the flow, the runner, the CLI and the benches iterate over it."""
    from night.stages import STAGE_NAMES

    writers = []
    for package in [*LAYERS, "bench"]:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if sum(f'"{name}"' in text for name in STAGE_NAMES) >= 3:
                writers.append(str(path.relative_to(ROOT)))
    assert writers == ["night/stages.py"], f"stage names listed outside night/stages.py: {writers}"


STAGE_ROOMS = ["night/search.py", "night/verification.py", "night/threads.py"]
EARLIER_STEPS = {"prepare_stored", "prepare_and_keep", "lead_vectors", "embed_stored"}


@pytest.mark.parametrize("room", STAGE_ROOMS)
def test_a_later_stage_reaches_stored_articles_through_the_window_not_an_earlier_stages_steps(room: str) -> None:
    """Prepared articles, lead vectors and languages of the window come from `night.window.Window`, found once;
    a stage does not prepare or embed the window's articles again itself (the search stage may encode an involved
    article whose vectors the store lost: `embed_stored`, without recording)."""
    allowed = {"embed_stored"} if room == "night/search.py" else set()
    for node in ast.walk(ast.parse((ROOT / room).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("night"):
            imported = {alias.name for alias in node.names}
            assert not (imported & EARLIER_STEPS) - allowed, f"{room} imports {sorted(imported & EARLIER_STEPS)}"


def test_the_nights_rooms_are_small_functions() -> None:
    """No function of night/ is over 60 lines: a stage's steps read as a handful of named parts."""
    for path in (ROOT / "night").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                assert node.end_lineno - node.lineno + 1 <= 60, f"{path.name}: {node.name} has over 60 lines"
