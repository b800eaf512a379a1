"""The packages depend one way: corpus <- embeddings <- clustering <- reports <- flows."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

LAYERS = ["corpus", "embeddings", "clustering", "reports", "flows"]


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
        if package != "flows":
            assert "prefect" not in names, f"{path} imports prefect; only flows/ may"
