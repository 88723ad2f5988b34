"""The app's layout holds: imports point down only, and no module grows past 300 lines."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "heartbeats"
MAX_LINES = 300

# Each unit (a package, or a module of the base) and its layer: a module may import its own
# unit and units of a lower layer, never a higher one nor another unit of its own layer.
LAYERS = {
    "heartbeats.models": 0,
    "heartbeats.job_count": 0,
    "heartbeats.redaction": 0,
    "heartbeats.domain": 1,
    "heartbeats.reporting": 2,
    "heartbeats.signals": 3,
    "heartbeats.access": 3,
    "heartbeats.alerts": 4,
    "heartbeats.admin": 5,
    "heartbeats.web": 5,
    "heartbeats.api": 5,
    "heartbeats.ops": 5,
    "heartbeats.management": 5,
    "heartbeats.templatetags": 5,
    "heartbeats.apps": 6,
}


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP.parent).with_suffix("")
        if "migrations" in relative.parts:
            continue
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        found.append((".".join(parts), path))
    return found


def unit_of(module: str) -> str | None:
    for unit in LAYERS:
        if module == unit or module.startswith(unit + "."):
            return unit
    return None


def imported(path: Path) -> set[str]:
    """Every heartbeats module `path` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("heartbeats.")}


def test_every_module_has_a_layer():
    unplaced = [name for name, _ in modules() if name != "heartbeats" and unit_of(name) is None]
    assert unplaced == []


def test_imports_point_down():
    upward = []
    for name, path in modules():
        unit = unit_of(name)
        if unit is None:
            continue
        for target in imported(path):
            target_unit = unit_of(target) or unit_of(target.rpartition(".")[0])
            if target_unit in (None, unit):
                continue
            if LAYERS[target_unit] >= LAYERS[unit]:
                upward.append(f"{name} imports {target}")
    assert upward == []


def test_no_module_over_300_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules()}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}
