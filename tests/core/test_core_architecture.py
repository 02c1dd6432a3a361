"""The dependency rules of docs/design.md, checked on the source (issue 20, item 6).

Static: every ``import``/``from … import`` statement of every module under ``setsel/`` is
read with :mod:`ast` — at module level *and* inside functions, since a lazy import is still
a dependency — so nothing is imported and no Ray starts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "setsel"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imported_names(path: Path) -> set[str]:
    """Every dotted name ``path`` imports (``from a.b import c`` gives ``a.b`` and ``a.b.c``),
    relative imports resolved against the module's package."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names)
    return out


def setsel_edges(path: Path) -> set[str]:
    """The setsel modules ``path`` depends on (each imported name mapped to its module)."""
    me, deps = _module_name(path), set()
    for name in imported_names(path):
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != me:
            deps.add(name)
    return deps


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, …, a]``, or ``None`` (iterative DFS)."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for root in sorted(graph):
        if state.get(root):
            continue
        stack, path = [(root, iter(sorted(graph[root])))], [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(graph.get(child, ())))))
                path.append(child)
    return None


def test_find_cycle_on_hand_made_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"y"}, "y": {"y"}}) == ["y", "y"]


def test_imported_names_sees_lazy_imports():
    mod = PKG / "distributed" / "stages.py"
    names = imported_names(mod)
    assert "setsel.distributed.index.ray_shard_runner" in names  # imported inside a function
    assert "setsel.distributed.index" in setsel_edges(mod)


def test_no_import_cycle_inside_setsel():
    graph = {name: setsel_edges(path) for name, path in MODULES.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_only_setsel_distributed_imports_ray():
    offenders = sorted(
        f"{path.relative_to(PKG.parent)} imports {name}"
        for module, path in MODULES.items()
        if not module.startswith("setsel.distributed")
        for name in imported_names(path)
        if name == "ray" or name.startswith("ray.")
    )
    assert not offenders, "ray outside setsel/distributed/: " + "; ".join(offenders)


@pytest.mark.parametrize("package", ["retrieval", "synthesis", "selection", "engines", "prompts", "datasets",
                                     "evaluation", "training"])
def test_domain_packages_do_not_import_the_ray_layer(package):
    """The local-or-Ray choice is made at the entry (commands/, jobs/, setsel.distributed.stages),
    never inside a domain package; the pure request schema of the serve app is the exception."""
    allowed = {"setsel.distributed.serve_schema"}
    offenders = sorted(
        f"{path.relative_to(PKG.parent)} imports {dep}"
        for module, path in MODULES.items()
        if module.startswith(f"setsel.{package}")
        for dep in setsel_edges(path)
        if dep.startswith("setsel.distributed") and dep not in allowed
    )
    assert not offenders, "; ".join(offenders)
