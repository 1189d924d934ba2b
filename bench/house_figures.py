"""The shape of the house in figures (issue 15): modules, lines, the largest module and function,
SQLAlchemy importers outside ``storage/``, ``Any`` count, import circles and upward imports.

Read with ``ast`` only (nothing is imported), so it also measures an older checkout:

    .venv/bin/python bench/house_figures.py                 # this checkout's src/
    .venv/bin/python bench/house_figures.py /tmp/old/src    # another tree

"Upward" follows the layering written in pyproject.toml ([tool.importlinter]): a package may
import packages in lower layers (or a sibling on its own layer) and the shared leaves, never a
higher layer; a leaf imports no layer. It is not a
benchmark with a target, so ``make bench`` (bench/run_all.py) lists it as skipped.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

PACKAGE = "exchange_analytics"
#: The aliases of ``jsontypes.py``: the places JSON of an external shape is held.
JSON_ALIASES = ("JSONValue", "JSONObject", "JSONMapping", "JSONSequence")
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def contract_layers() -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """Layers (highest first; siblings in one tuple) and shared leaves, read from this
    checkout's import-linter contract, so the figures judge "upward" exactly as
    ``lint-imports`` does (older trees are judged by today's contract)."""
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    by_id = {c["id"]: c for c in config["contracts"]}
    layers = tuple(
        tuple(name.strip().removeprefix(f"{PACKAGE}.") for name in line.split("|"))
        for line in by_id["layers"]["layers"]
    )
    leaves = tuple(m.removeprefix(f"{PACKAGE}.") for m in by_id["leaves"]["source_modules"])
    return (("__main__",), *layers), (*leaves, "__init__")


LAYERS, LEAVES = contract_layers()


def modules(src: Path) -> dict[str, Path]:
    root = src / PACKAGE
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, tree: ast.Module) -> set[str]:
    """Every project module ``name`` imports (function-level imports included)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(PACKAGE))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.startswith(PACKAGE):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
    return found


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_of(package: str) -> int | None:
    for index, names in enumerate(LAYERS):
        if package in names:
            return index
    return None


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative enough)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main(argv: list[str]) -> None:
    src = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "src"
    found = modules(src)
    lines_total = 0
    largest_module = ("", 0)
    largest_function = ("", 0)
    any_count = 0
    json_alias_count = 0
    long_functions: list[str] = []
    sqlalchemy_outside: list[str] = []
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in found.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        count = len(text.splitlines())
        lines_total += count
        if count > largest_module[1]:
            largest_module = (name, count)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                span = (node.end_lineno or node.lineno) - node.lineno + 1
                if span > largest_function[1]:
                    largest_function = (f"{name}.{node.name}", span)
                if span > 60:
                    long_functions.append(f"{name}.{node.name} ({span} lines)")
            elif _names_any(node):
                any_count += 1
            elif isinstance(node, ast.Name) and node.id in JSON_ALIASES:
                json_alias_count += 1
        uses_sqlalchemy = any(
            (
                isinstance(n, ast.Import)
                and any(a.name.split(".")[0] == "sqlalchemy" for a in n.names)
            )
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "sqlalchemy")
            for n in ast.walk(tree)
        )
        if uses_sqlalchemy and top(name) != "storage":
            sqlalchemy_outside.append(name)
        graph[name] = {m for m in imports(name, path, tree) if m in found and m != name}
    package_graph: dict[str, set[str]] = defaultdict(set)
    upward: list[str] = []
    for source, targets in graph.items():
        for target in targets:
            a, b = top(source), top(target)
            if a == b:
                continue
            package_graph[a].add(b)
            la, lb = layer_of(a), layer_of(b)
            if b in LEAVES or la is None or lb is None:
                if a in LEAVES and b not in LEAVES:
                    upward.append(f"{source} -> {target} (a leaf imports {b})")
                continue
            if lb < la:
                upward.append(f"{source} -> {target}")
    unlayered = sorted(p for p in package_graph if layer_of(p) is None and p not in LEAVES)
    print(f"tree: {src}")
    print(f"modules: {len(found)}")
    print(f"lines: {lines_total}")
    print(f"largest module: {largest_module[0]} ({largest_module[1]} lines)")
    print(f"largest function: {largest_function[0]} ({largest_function[1]} lines)")
    big = sorted(f"{n} ({_lines(p)} lines)" for n, p in found.items() if _lines(p) > 400)
    print(f"modules over 400 lines: {len(big)}")
    for entry in big:
        print(f"  {entry}")
    print(f"SQLAlchemy importers outside storage/: {len(sqlalchemy_outside)}")
    for name in sorted(sqlalchemy_outside):
        print(f"  {name}")
    print(f"Any in src/: {any_count}")
    print(f"uses of the JSON aliases ({', '.join(JSON_ALIASES)}, jsontypes.py): {json_alias_count}")
    print(f"functions over 60 lines: {len(long_functions)}")
    for entry in long_functions:
        print(f"  {entry}")
    module_circles = circles(graph)
    package_circles = circles(package_graph)
    print(f"import circles (modules): {len(module_circles)}")
    for component in module_circles:
        print("  " + " <-> ".join(component))
    print(f"import circles (packages): {len(package_circles)}")
    for component in package_circles:
        print("  " + " <-> ".join(component))
    print(f"upward imports: {len(upward)}")
    for arrow in sorted(upward):
        print(f"  {arrow}")
    if unlayered:
        print(f"packages in no layer: {', '.join(unlayered)}")


def _names_any(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "Any") or (
        isinstance(node, ast.Attribute) and node.attr == "Any"
    )


def _imports_sqlalchemy(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] == "sqlalchemy" for a in node.names)
    return isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy"


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


if __name__ == "__main__":
    main(sys.argv[1:])
