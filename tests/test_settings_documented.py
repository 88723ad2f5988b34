"""Every variable settings.py reads is documented in docs/configuration.md and .env.example."""

from __future__ import annotations

import ast
import re

from django.conf import settings

ROOT = settings.BASE_DIR
# Chooses which file is `.env`, so it cannot be set inside one.
NOT_IN_ENV_FILE = {"CRONMONITOR_ENV_FILE"}


def variables() -> set[str]:
    """Names passed first to any call of an env reader (`env.str`, `env_int`, `os.environ.get`
    ...) in settings.py, found from the syntax tree so no way of reading one slips past."""
    tree = ast.parse((ROOT / "cronmonitor" / "settings.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and "env" in ast.unparse(node.func).lower()
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
        and re.fullmatch(r"[A-Z][A-Z0-9_]+", node.args[0].value)
    }


def test_every_variable_is_documented():
    reference = (ROOT / "docs" / "configuration.md").read_text()
    example = (ROOT / ".env.example").read_text()
    assert len(variables()) > 50
    assert sorted(v for v in variables() if f"| `{v}`" not in reference) == []
    assert sorted(v for v in variables() - NOT_IN_ENV_FILE if f"{v}=" not in example) == []
