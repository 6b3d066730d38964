"""The dependency rule is checked by import-linter inside the test run, and the memory adapters'
import graph by grimp (the graph builder import-linter uses)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is a dev dependency; run `uv sync`"
    result = subprocess.run(  # noqa: S603
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


MEMORY = "crm.adapters.memory"


def memory_import_graph() -> dict[str, set[str]]:
    """Each module of the memory adapters -> the memory modules it imports (guarded ones too)."""
    graph = grimp.build_graph("crm", cache_dir=None)
    modules = graph.find_descendants(MEMORY)
    return {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}


def test_the_memory_adapters_import_each_other_without_a_cycle() -> None:
    graph = memory_import_graph()
    assert f"{MEMORY}.state" in graph, "the memory adapters' state module is missing"
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        raise AssertionError(f"import cycle among the memory adapters: {cycle.args[1]}") from None
    assert set(order) == set(graph)


def test_the_memory_state_imports_no_adapter() -> None:
    graph = grimp.build_graph("crm", cache_dir=None)
    imported = graph.find_modules_directly_imported_by(f"{MEMORY}.state")
    assert imported, "the state module imports the domain model it holds"
    assert not {m for m in imported if m.startswith("crm.adapters")}, imported
