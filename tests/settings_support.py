"""Reading cronmonitor/settings.py afresh, in-process, with chosen variables: what a process
started with them would read, without starting one (one subprocess test checks how manage.py
reports a refusal)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(__file__).resolve().parent.parent / "cronmonitor" / "settings.py"


def read_settings(monkeypatch, **env: str) -> dict:
    """The settings module's names, read from the environment plus `env`."""
    monkeypatch.setenv("CRONMONITOR_ENV_FILE", "/dev/null")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def refusal(monkeypatch, name: str, *expected: str, **env: str) -> str:
    """The line manage.py prints for the ImproperlyConfigured the settings raise."""
    with pytest.raises(ImproperlyConfigured) as refused:
        read_settings(monkeypatch, **env)
    [line] = f"Configuration error: {refused.value}".splitlines()
    assert line.startswith(f"Configuration error: {name} ")
    for text in expected:
        assert text in line
    return line
