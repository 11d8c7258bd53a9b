"""The package's import graph: no cycles between modules, no two packages importing each other,
and no backend name compared to a literal outside tui/engines.

Each check is a pure function of a graph (or of source text) and is first shown to catch a
planted violation, then run on the real package.

Direction: tui.models (the catalog and model management) may import tui.engines (the engine
contract, its errors and progress events); tui.engines may not import tui.models. The GGUF
reading and the memory and fit arithmetic that both need live below both, in tui.gguf and tui.fit.

Imports inside functions count as edges like module-level ones: a lazy import still ties the
two modules together. Imports under `if TYPE_CHECKING:` are left out of the cycle check (they
never run) but count for the two-way package rule (they still say one package knows the other).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tui"
BACKEND_NAMES = frozenset({"embedded", "ollama", "openai"})
"""Backend names that only tui/engines may compare a string against."""

Graph = dict[str, set[str]]


# The graph.


def module_name(root: Path, path: Path) -> str:
    """Dotted name of the module at `path` under the folder that holds the package (`root`)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.Module, module: str, is_package: bool, typing_too: bool) -> Iterable[str]:
    """Dotted names `tree` imports: each `import a.b` as a.b, each `from a import b` as a.b (the
    caller walks up to the nearest module). `typing_too`: include `if TYPE_CHECKING:` blocks."""
    skipped: set[int] = set()
    if not typing_too:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                skipped |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join([*here, base] if base else here)
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(root: Path, package: str, *, typing_too: bool = False) -> Graph:
    """Each module of `package` (under `root`) and the package's modules it imports."""
    paths = {module_name(root, p): p for p in sorted((root / package).rglob("*.py"))}
    graph: Graph = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        found = set()
        for name in _imported(tree, module, path.name == "__init__.py", typing_too):
            # `from tui.fit import units` names a module; `from tui.fit.units import gb` does not.
            while name and name not in paths:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
        graph[module] = found
    return graph


# The checks.


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every group of modules that import each other round a loop (Tarjan's strongly connected
    components of more than one module), each as a loop through it: [a, b, c, a]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep package does not hit the recursion limit.
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(_loop(graph, set(group)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _loop(graph: Mapping[str, Iterable[str]], group: set[str]) -> list[str]:
    """One loop through a strongly connected `group`, found breadth-first from its first member."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return [*paths[node], start]
            if nxt in group and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return sorted(group)  # Not reached for a real component.


def unit_of(module: str, package: str) -> str:
    """The part of the package a module belongs to: tui.X for tui/X/..., else the module itself
    (a top-level module such as tui.config is a unit of its own)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and parts[0] == package else module


def two_way(graph: Mapping[str, Iterable[str]], package: str) -> list[tuple[str, str]]:
    """Pairs of units (packages under `package`, and its top-level modules) that import each other."""
    edges = {
        (unit_of(a, package), unit_of(b, package))
        for a, targets in graph.items()
        for b in targets
        if unit_of(a, package) != unit_of(b, package)
    }
    return sorted((a, b) for a, b in edges if a < b and (b, a) in edges)


def backend_literals(source: str) -> list[int]:
    """Lines of `source` that compare a string with a backend's name written out: `x == "ollama"`,
    `x in ("embedded", ...)`, `x.startswith("ollama")`. Comparing with a variable is fine."""

    def named(node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in BACKEND_NAMES
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(named(item) for item in node.elts)
        return False

    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(named(side) for side in [node.left, *node.comparators]):
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"startswith", "endswith", "removeprefix"}
            and any(named(arg) for arg in node.args)
        ):
            lines.append(node.lineno)
    return sorted(lines)


# Each check catches a planted violation.


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_graph_reads_every_kind_of_import(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import pkg.b\nfrom pkg.c import thing\nfrom . import d\n",
            "pkg/b.py": "def later():\n    from pkg.sub import e\n",
            "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\nthing = 1\n",
            "pkg/d.py": "import os\n",
            "pkg/sub/__init__.py": "from .e import x\n",
            "pkg/sub/e.py": "from ..d import y\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.b", "pkg.c", "pkg.d"}
    assert graph["pkg.b"] == {"pkg.sub.e"}  # A function's import counts.
    assert graph["pkg.c"] == set()  # TYPE_CHECKING left out of the cycle graph...
    assert import_graph(tmp_path, "pkg", typing_too=True)["pkg.c"] == {"pkg.a"}  # ...but kept on request.
    assert graph["pkg.sub"] == {"pkg.sub.e"} and graph["pkg.sub.e"] == {"pkg.d"}


def test_a_planted_cycle_is_caught(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "def f():\n    import pkg.c\n",
            "pkg/c.py": "from pkg.a import x\n",
            "pkg/d.py": "import pkg.a\n",
        },
    )
    assert cycles(import_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_a_planted_two_way_package_pair_is_caught() -> None:
    graph = {
        "tui.engines.embedded": {"tui.models.library"},
        "tui.models.catalog": {"tui.engines.base"},
        "tui.models.library": set(),
        "tui.config": {"tui.domain"},
        "tui.domain": {"tui.store.db"},
        "tui.store.db": {"tui.domain"},
    }
    assert two_way(graph, "tui") == [("tui.domain", "tui.store"), ("tui.engines", "tui.models")]
    assert two_way({"tui.a.x": {"tui.b.y"}, "tui.b.y": set()}, "tui") == []


def test_a_planted_backend_name_comparison_is_caught() -> None:
    source = (
        'if m.backend == "embedded":\n'
        "    pass\n"
        'ok = m.backend == backend or name in ("ollama", "x")\n'
        'far = m.backend.startswith("ollama")\n'
        'fine = m.backend == other and {"embedded": 1}\n'
    )
    assert backend_literals(source) == [1, 3, 4]


# The real package.


def test_no_import_cycles() -> None:
    assert cycles(import_graph(ROOT, PACKAGE)) == []


def test_no_two_packages_import_each_other() -> None:
    assert two_way(import_graph(ROOT, PACKAGE, typing_too=True), PACKAGE) == []


def test_engines_do_not_import_models() -> None:
    graph = import_graph(ROOT, PACKAGE, typing_too=True)
    wrong = {
        module: sorted(name for name in imported if name.startswith("tui.models"))
        for module, imported in graph.items()
        if module.startswith("tui.engines")
    }
    assert {module: names for module, names in wrong.items() if names} == {}


def test_no_private_names_imported_across_packages() -> None:
    """`from tui.engines.embedded.gguf_info import _header_reader` in tui.models was how the two got tangled."""
    found = []
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        module = module_name(ROOT, path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE + "."):
                if unit_of(node.module, PACKAGE) == unit_of(module, PACKAGE):
                    continue
                found += [f"{module}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert found == []


def test_no_backend_name_compared_outside_engines() -> None:
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / PACKAGE).rglob("*.py"))
        if path.relative_to(ROOT / PACKAGE).parts[0] != "engines"
        and (lines := backend_literals(path.read_text(encoding="utf-8")))
    }
    assert found == {}
