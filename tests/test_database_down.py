"""Database unreachable: one clear line and a non-zero exit within the connect timeout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


@pytest.fixture
def silent_database():
    """A TCP port that accepts connections but never speaks: a hung database server."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"postgres://postgres@127.0.0.1:{server.getsockname()[1]}/cronmonitor"


def run_command(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DB_CONNECT_TIMEOUT": "2",
        "CRONMONITOR_ENV_FILE": "/dev/null",
        "SLACK_WEBHOOK_URL": "http://127.0.0.1:9/x",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], env=env, capture_output=True, text=True, timeout=20
    )


@pytest.mark.parametrize(
    ("args", "kind"),
    # Each command with a hung server (the timeout), each other failure with one command.
    [
        (["beat", "backup"], "hung"),
        (["run_healthcheck"], "hung"),
        (["beat", "backup"], "refused"),
        (["run_healthcheck"], "sqlite_unopenable"),
    ],
)
def test_commands_fail_fast_with_one_line(silent_database, args, kind):
    url = {
        "hung": silent_database,
        "refused": "postgres://postgres@127.0.0.1:9/cronmonitor",
        "sqlite_unopenable": "sqlite:////nonexistent-dir/cronmonitor.sqlite3",
    }[kind]
    done = run_command(*args, database_url=url)
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("CommandError: database unavailable:")
    assert "Traceback" not in done.stderr
