"""The layer map of ``mlnb/layers.py`` holds: no import of a higher layer, no import cycle.

The graph is read from the source with ``ast`` (imports inside functions count; ``if
TYPE_CHECKING:`` blocks do not, since they never run), so a violation fails here before anyone
imports anything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

from mlnb.layers import EDGE_LIBRARIES, layer_of

PACKAGE = Path(__file__).resolve().parents[1] / "mlnb"


def module_files(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at ``root``."""
    files = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    return files


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        name = getattr(test, "id", None) or getattr(test, "attr", None)
        if isinstance(node, ast.If) and name == "TYPE_CHECKING":
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def imported_names(module: str, path: Path, modules: Iterable[str] = ()) -> set[str]:
    """Every dotted name an ``import`` in the module's source names (absolute form).

    ``from package import submodule`` names the submodule alone: the package's ``__init__``
    runs before any of its submodules anyway, so it is no edge of its own.
    """
    known = set(modules)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            for alias in node.names:
                full = f"{base}.{alias.name}"
                names.add(full if full in known else base)
    return names


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the mlnb modules it imports (a name is cut back to the module that holds it)."""
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = set()
        for name in imported_names(module, path, files):
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Each import of a higher layer, or of another package of the same layer."""
    problems = []
    for module, targets in sorted(graph.items()):
        level, entry = layer_of(module)
        for target in sorted(targets):
            target_level, target_entry = layer_of(target)
            if target_level > level or (target_level == level and target_entry != entry):
                problems.append(f"{module} (layer {level}, {entry}) imports {target} "
                                f"(layer {target_level}, {target_entry})")
    return problems


GRAPH = import_graph(module_files())


def test_every_module_is_in_a_layer() -> None:
    for module in GRAPH:
        layer_of(module)


def test_no_import_reaches_a_higher_layer() -> None:
    assert layer_violations(GRAPH) == []


def test_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


def test_below_the_edges_nothing_imports_ipython_or_jupyter() -> None:
    files = module_files()
    edge_level = layer_of("mlnb.widgets")[0]
    offenders = sorted(
        f"{module} imports {name}"
        for module, path in files.items() if layer_of(module)[0] < edge_level
        for name in imported_names(module, path) if name.split(".")[0] in EDGE_LIBRARIES)
    assert offenders == []


def test_the_checks_catch_a_cycle_and_an_upward_import() -> None:
    graph = {"mlnb.store.runs": {"mlnb.tracking.client"}, "mlnb.tracking.client": {"mlnb.store.runs"}}
    assert cycles(graph) == [["mlnb.store.runs", "mlnb.tracking.client"]]
    assert layer_violations(graph) == [
        "mlnb.store.runs (layer 1, mlnb.store) imports mlnb.tracking.client (layer 4, mlnb.tracking)"]


def test_siblings_of_one_layer_may_not_import_each_other() -> None:
    assert layer_violations({"mlnb.server.base": {"mlnb.cli.table"}}) == [
        "mlnb.server.base (layer 10, mlnb.server) imports mlnb.cli.table (layer 10, mlnb.cli)"]


def test_a_module_outside_the_map_is_named() -> None:
    with pytest.raises(KeyError, match=r"mlnb\.newthing"):
        layer_of("mlnb.newthing")


def deferred_imports_without_a_reason(files: dict[str, Path]) -> list[str]:
    """Imports inside a function with no comment (on the line or just above) saying why."""
    offenders = []
    for module, path in files.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for function in ast.walk(ast.parse(source)):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                said = "#" in lines[node.lineno - 1] or lines[node.lineno - 2].strip().startswith("#")
                if not said:
                    offenders.append(f"{module}:{node.lineno} {lines[node.lineno - 1].strip()}")
    return sorted(set(offenders))


def test_an_import_inside_a_function_says_why() -> None:
    """Imports belong at the top; one inside a function keeps a named heavy library (or a
    platform-only one) off `import mlnb`, and its comment names it."""
    assert deferred_imports_without_a_reason(module_files()) == []
