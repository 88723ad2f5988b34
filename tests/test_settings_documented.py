"""Every variable settings.py reads is documented in README.md and .env.example."""

from __future__ import annotations

import re

from django.conf import settings

ROOT = settings.BASE_DIR


def variables() -> set[str]:
    source = (ROOT / "cronmonitor" / "settings.py").read_text()
    names = set(re.findall(r'env(?:_\w+|\.\w+)\(\s*"([A-Z][A-Z0-9_]+)"', source))
    return names - {"CRONMONITOR_ENV_FILE"}


def test_every_variable_is_documented():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    assert len(variables()) > 30
    assert sorted(v for v in variables() if f"`{v}`" not in readme) == []
    assert sorted(v for v in variables() if f"{v}=" not in example) == []
