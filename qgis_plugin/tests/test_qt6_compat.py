"""The plugin's code uses only what PyQt6 (QGIS 4) also has: scoped enums (`Qt.AlignmentFlag.AlignLeft`,
not `Qt.AlignLeft`, which PyQt6 removed), `exec()` rather than `exec_()`, QAction from QtGui where Qt 6
has it. Checked on the source with PyQt5's own classes, since only QGIS 3 (Qt 5) is installed here."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[1] / "samscape_qgis"


def _imported_classes(tree: ast.Module) -> dict[str, object]:
    """Names imported `from qgis.PyQt.X import ...` and `from qgis.core/gui import ...`, as objects."""
    found: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "qgis":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(module, alias.name):
                    found[alias.asname or alias.name] = getattr(module, alias.name)
    return found


def _unscoped_enum(owner: object, attr: str) -> bool:
    """Whether `owner.attr` is an enum value reached without its enum's name (PyQt5 sip enums are
    int subclasses named after their enum; Qt 6 keeps only the scoped form)."""
    value = getattr(owner, attr, None)
    kind = type(value)
    return (isinstance(value, int) and kind not in (int, bool) and isinstance(owner, type)
            and kind.__qualname__.startswith(owner.__name__ + "."))


def test_no_qt5_only_api() -> None:
    problems = []
    files = sorted(PLUGIN.rglob("*.py"))
    assert len(files) > 10
    for file in files:
        tree = ast.parse(file.read_text(), str(file))
        classes = _imported_classes(tree)
        for node in ast.walk(tree):
            where = f"{file.relative_to(PLUGIN)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Attribute) and node.attr == "exec_":
                problems.append(f"{where}: exec_() is gone in Qt 6; call exec()")
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in classes and _unscoped_enum(classes[node.value.id], node.attr)):
                enum = type(getattr(classes[node.value.id], node.attr)).__qualname__
                problems.append(f"{where}: {node.value.id}.{node.attr} is unscoped; write {enum}.{node.attr}")
    assert not problems, "\n".join(problems)


def test_the_check_finds_an_unscoped_enum() -> None:
    from qgis.PyQt.QtCore import Qt

    assert _unscoped_enum(Qt, "AlignLeft") and not _unscoped_enum(Qt, "AlignmentFlag")
