"""The house rules of the layout, read from the code's own imports (module level and inside functions)."""
from __future__ import annotations

import graphlib

import grimp
import pytest

PACKAGES = ("db", "training", "workbench", "migrations")


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES, include_external_packages=True)


def _imports_of(graph, package: str) -> set[tuple[str, str]]:
    pairs = set()
    for module in graph.find_children(package) | graph.find_descendants(package) | {package}:
        for imported in graph.find_modules_directly_imported_by(module):
            pairs.add((module, imported))
    return pairs


def _violations(graph, importer: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{a} imports {b}" for a, b in _imports_of(graph, importer)
                  if any(b == f or b.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize(("importer", "forbidden"), [
    ("db", ("training", "workbench", "streamlit", "torch")),
    ("training", ("workbench", "streamlit")),
    ("workbench.app", ("workbench.cli", "workbench.bot")),
    ("workbench.bot", ("workbench.app", "streamlit")),
])
def test_layering(graph, importer, forbidden):
    if importer not in graph.modules:  # only the bot may not exist yet: then it imports nothing
        assert importer == "workbench.bot"
        return
    assert _violations(graph, importer, forbidden) == []


def test_no_import_circles(graph):
    """No module imports itself through others, at module level or inside a function."""
    ours = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    sorter = graphlib.TopologicalSorter(
        {m: {i for i in graph.find_modules_directly_imported_by(m) if i in ours} for m in ours}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        pytest.fail("import circle: " + " → ".join(exc.args[1]))
