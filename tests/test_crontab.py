"""django-crontab's traps: the schedule is installed, and cron's empty environment still finds
the deployment's configuration (not a silent fallback to a fresh SQLite file)."""

from __future__ import annotations

import functools
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [
    pytest.mark.skipif(shutil.which("crontab") is None, reason="needs Debian's cron"),
    # The deployment under test has its own SQLite database whatever the suite runs on, and
    # `make test` runs the two databases' suites at once: one of them edits the user's crontab.
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
        reason="runs in the SQLite suite (its deployment has its own SQLite database)",
    ),
]

PROJECT = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """The project's files and a migrated database, made once: each test copies them."""
    built = tmp_path_factory.mktemp("built")
    for part in ("manage.py", "cronmonitor", "heartbeats", "templates"):
        source = PROJECT / part
        if source.is_dir():
            shutil.copytree(source, built / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, built / part)
    write_env(built, built / "configured.sqlite3", "http://127.0.0.1:9/hook")
    manage(built, "migrate", "-v0")
    return built


def write_env(root: Path, database: Path, webhook: str) -> None:
    (root / ".env").write_text(
        f"DATABASE_URL=sqlite:///{database}\n"
        f"SLACK_WEBHOOK_URL={webhook}\n"
        "HEALTHCHECK_SCHEDULE=*/5 * * * *\n"
        f"SECRET_KEY={'production-like-secret-key-' * 2}\n"  # DEBUG is off, as in production
    )


@pytest.fixture
def deployment(migrated, tmp_path, httpserver):
    """A copy of the project with its own .env and database, as an operator would deploy it
    (its own directory, so its own crontab comment)."""
    root = tmp_path / "deploy"
    shutil.copytree(migrated, root, ignore=shutil.ignore_patterns("configured.sqlite3", ".env"))
    database = tmp_path / "configured.sqlite3"
    shutil.copy(migrated / "configured.sqlite3", database)
    httpserver.expect_request("/hook").respond_with_data("ok")
    write_env(root, database, httpserver.url_for("/hook"))
    yield root, database
    listing = subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout
    comment = crontab_comment(root)
    kept = "".join(line for line in listing.splitlines(True) if comment not in line)
    if kept != listing:
        subprocess.run(["crontab", "-"], input=kept, text=True, check=True)


def manage(root: Path, *args: str) -> str:
    """Run manage.py as cron would: an empty environment, another working directory."""
    done = subprocess.run(
        [sys.executable, str(root / "manage.py"), *args],
        env={}, cwd="/", capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout


@functools.cache
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
    assert "heartbeats.ops.crontab_jobs.run_healthcheck" in shown
    assert "heartbeats.ops.crontab_jobs.prune_heartbeats" in shown


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


def change_schedule(root: Path, schedule: str) -> None:
    env = root / ".env"
    lines = env.read_text().splitlines()
    kept = [line for line in lines if not line.startswith("HEALTHCHECK_SCHEDULE=")]
    env.write_text("\n".join([*kept, f"HEALTHCHECK_SCHEDULE={schedule}"]) + "\n")


def test_a_schedule_change_reinstalls_with_the_documented_sequence(deployment):
    root, _ = deployment
    manage(root, "crontab", "add")
    change_schedule(root, "*/10 * * * *")
    shown = manage(root, "crontab", "show")
    assert "heartbeats.ops.crontab_jobs.run_healthcheck at '*/5 * * * *' (old schedule)" in shown
    manage(root, "crontab", "remove")
    assert installed_lines(root) == []
    manage(root, "crontab", "add")
    lines = installed_lines(root)
    assert len(lines) == 2
    assert [line for line in lines if line.startswith("*/10 * * * * ")]


def test_add_alone_replaces_lines_of_an_old_schedule(deployment):
    root, _ = deployment
    manage(root, "crontab", "add")
    change_schedule(root, "*/10 * * * *")
    manage(root, "crontab", "add")
    starts = sorted(line.split(" crontab run")[0].split(" /")[0] for line in installed_lines(root))
    assert starts == ["*/10 * * * *", "17 3 * * *"]


def test_a_line_left_from_an_old_schedule_still_runs_the_checker(deployment):
    """Until the operator reinstalls, the old line must not silently stop the checking."""
    root, database = deployment
    manage(root, "crontab", "add")
    (line,) = [line for line in installed_lines(root) if line.startswith("*/5 * * * * ")]
    change_schedule(root, "*/10 * * * *")
    command = line.split(" ", 5)[5].split("#", 1)[0]
    done = subprocess.run(
        ["sh", "-c", command], env={}, cwd="/", capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "this crontab line is out of date; run 'manage.py crontab add'" in done.stderr
    with sqlite3.connect(database) as db:
        runs = db.execute("SELECT trigger, outcome FROM heartbeats_checkrun").fetchall()
    assert runs == [("cron", "ok")]


@pytest.mark.django_db
def test_missing_crontab_binary_is_a_system_check_warning(settings):
    from io import StringIO

    from django.core.management import call_command

    settings.CRONTAB_EXECUTABLE = "/nonexistent/crontab"
    err = StringIO()
    call_command("check", stdout=StringIO(), stderr=err)
    assert "heartbeats.W002" in err.getvalue()


def test_a_hand_edited_line_without_its_hash_is_still_removed(capsys):
    from heartbeats.management.commands.crontab import ScheduleSafeCrontab

    crontab = ScheduleSafeCrontab(verbosity=1)
    comment = settings.CRONTAB_COMMENT
    crontab.crontab_lines = [
        "MAILTO=ops@example.com\n",
        f"*/5 * * * * /venv/bin/python /srv/manage.py crontab run # {comment}\n",
        "0 1 * * * /usr/local/bin/someone-elses-job\n",
    ]
    crontab.remove_jobs()
    assert crontab.crontab_lines == [
        "MAILTO=ops@example.com\n",
        "0 1 * * * /usr/local/bin/someone-elses-job\n",
    ]
    assert "no longer configured" in capsys.readouterr().out
