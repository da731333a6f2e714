"""The import structure of `samscape/` follows the layer table in docs/design.md, with no cycle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "samscape"


def layer_table() -> dict[str, int]:
    """Top-level module or package name → its row in the design's layer table (0 = lowest)."""
    text = (ROOT / "docs" / "design.md").read_text()
    table = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("|") and "`" in line]
    return {name: i for i, row in enumerate(rows) for name in re.findall(r"`([\w.]+)`", row.split("|")[2])}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The samscape modules `path` imports, anywhere in the file (function-level imports too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found |= {f"{target}.{a.name}" if _is_module(f"{target}.{a.name}") else target
                      for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m == "samscape" or m.startswith("samscape.")}


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "samscape"


GRAPH = {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer() -> None:
    layers = layer_table()
    assert len(set(layers.values())) >= 5
    missing = sorted({top(m) for m in GRAPH} - set(layers))
    assert not missing, f"add {missing} to the layer table in docs/design.md"


def test_no_module_imports_from_a_higher_layer() -> None:
    layers = layer_table()
    upward = [f"{m} (layer {layers[top(m)]}) imports {d} (layer {layers[top(d)]})"
              for m, deps in GRAPH.items() for d in sorted(deps)
              if top(m) in layers and top(d) in layers and layers[top(d)] > layers[top(m)]]
    assert not upward, "\n".join(upward)


def test_no_import_cycle() -> None:
    """Tarjan's strongly connected components over modules (a package's __init__ re-exporting its
    own modules is not a cycle of concern, so edges into a module's own package are left out)."""
    graph = {m: {d for d in deps if d in GRAPH and not m.startswith(d + ".")} for m, deps in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"
