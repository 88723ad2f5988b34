"""django-crontab's traps: the schedule is installed, and cron's empty environment still finds
the deployment's configuration (not a silent fallback to a fresh SQLite file)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.skipif(shutil.which("crontab") is None, reason="needs Debian's cron")

PROJECT = Path(settings.BASE_DIR)


@pytest.fixture
def deployment(tmp_path, httpserver):
    """A copy of the project with its own .env, as an operator would deploy it."""
    root = tmp_path / "deploy"
    for part in ("manage.py", "cronmonitor", "heartbeats", "templates"):
        source = PROJECT / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            root.mkdir(exist_ok=True)
            shutil.copy(source, root / part)
    database = tmp_path / "configured.sqlite3"
    httpserver.expect_request("/hook").respond_with_data("ok")
    (root / ".env").write_text(
        f"DATABASE_URL=sqlite:///{database}\n"
        f"SLACK_WEBHOOK_URL={httpserver.url_for('/hook')}\n"
        "HEALTHCHECK_SCHEDULE=*/5 * * * *\n"
    )
    manage(root, "migrate", "-v0")
    yield root, database
    manage(root, "crontab", "remove")


def manage(root: Path, *args: str) -> str:
    """Run manage.py as cron would: an empty environment, another working directory."""
    done = subprocess.run(
        [sys.executable, str(root / "manage.py"), *args],
        env={}, cwd="/", capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout


def crontab_comment(root: Path) -> str:
    code = "from django.conf import settings; print(settings.CRONTAB_COMMENT)"
    return manage(root, "shell", "-v0", "-c", code).strip().splitlines()[-1]


def installed_lines(root: Path) -> list[str]:
    comment = crontab_comment(root)
    listing = subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout
    return [line for line in listing.splitlines() if comment in line]


def test_crontab_add_and_show_list_the_checker(deployment):
    root, _ = deployment
    manage(root, "crontab", "add")
    lines = installed_lines(root)
    assert len(lines) == 2  # the checker and the daily prune
    (line,) = [line for line in lines if line.startswith("*/5 * * * * ")]
    assert f"{root / 'manage.py'} crontab run " in line
    shown = manage(root, "crontab", "show")
    assert "heartbeats.cron.run_healthcheck" in shown
    assert "heartbeats.cron.prune_heartbeats" in shown


def test_crontab_comment_differs_between_deployments(deployment, tmp_path):
    root, _ = deployment
    comment = crontab_comment(root)
    assert comment.startswith("cronmonitor-")
    assert comment != settings.CRONTAB_COMMENT


def test_the_crontab_line_runs_with_an_empty_environment_on_the_configured_db(deployment):
    root, database = deployment
    manage(root, "crontab", "add")
    (line,) = [line for line in installed_lines(root) if line.startswith("*/5 * * * * ")]
    command = line.split(" ", 5)[5].split("#", 1)[0]
    subprocess.run(["sh", "-c", command], env={}, cwd="/", check=True, timeout=120)
    with sqlite3.connect(database) as db:
        runs = db.execute("SELECT trigger, outcome FROM heartbeats_checkrun").fetchall()
        own = db.execute("SELECT status FROM job_heartbeats WHERE job_name='cron-healthcheck'")
        assert runs == [("cron", "ok")]
        assert own.fetchall() == [("healthy",)]
    assert not (root / "db.sqlite3").exists()
    assert not Path("/db.sqlite3").exists()


@pytest.mark.django_db
def test_missing_crontab_binary_is_a_system_check_warning(settings):
    from io import StringIO

    from django.core.management import call_command

    settings.CRONTAB_EXECUTABLE = "/nonexistent/crontab"
    err = StringIO()
    call_command("check", stdout=StringIO(), stderr=err)
    assert "heartbeats.W002" in err.getvalue()
