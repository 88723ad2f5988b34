from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection

from heartbeats.models import JobHeartbeat, PingEvent

pytestmark = pytest.mark.django_db

PYTHON = sys.executable


def test_beat_creates_then_updates(clock):
    call_command("beat", "nightly.backup:db", "--status", "ok", "--metadata", '{"rows": 42}')
    first = JobHeartbeat.objects.get(pk="nightly.backup:db")
    assert (first.status, first.metadata, first.last_run_at) == ("ok", {"rows": 42}, clock.now())
    clock.advance(hours=2)
    call_command("beat", "nightly.backup:db")
    job = JobHeartbeat.objects.get(pk="nightly.backup:db")
    assert (job.status, job.metadata, job.last_run_at) == ("healthy", {}, clock.now())
    assert job.n_runs == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad name"], "invalid job name 'bad name'"),
        (["x" * 129], "invalid job name"),
        ([""], "invalid job name ''"),
        (["ok", "--status", "two words"], "invalid status 'two words'"),
        (["ok", "--status", "s" * 33], "invalid status"),
        (["ok", "--metadata", "{broken"], "metadata is not valid JSON"),
        (["ok", "--metadata", "[1, 2]"], "metadata must be a JSON object"),
        (["ok", "--metadata", "[" * 50 + "]" * 50], "metadata must be a JSON object"),
        (["ok", "--metadata", '{"a":' * 30 + "1" + "}" * 30], "nested deeper than 20 levels"),
        (["ok", "--metadata", '{"a": "' + "x" * 70000 + '"}'], "larger than 65536 bytes"),
        (["ok", "--metadata", '{"a": NaN}'], "NaN is not allowed"),
        (["ok", "--metadata", '{"a": Infinity}'], "Infinity is not allowed"),
        (["ok", "--metadata", '{"a": "\\u0000"}'], "must not contain NUL characters"),
        (["ok", "--status", ""], "invalid status ''"),
        (["backup\n"], "invalid job name 'backup\\n'"),
        (["ok", "--status", "ok\n"], "invalid status 'ok\\n'"),
    ],
)
def test_bad_input_is_one_line_non_zero_and_writes_nothing(args, message, make_job):
    make_job("ok", status="before", metadata={"keep": True})
    with pytest.raises(CommandError) as excinfo:
        call_command("beat", *args, stdout=StringIO(), stderr=StringIO())
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
    assert excinfo.value.returncode == 2
    job = JobHeartbeat.objects.get(pk="ok")
    assert (job.status, job.metadata) == ("before", {"keep": True})
    assert JobHeartbeat.objects.count() == 1
    assert PingEvent.objects.count() == 0


def beat(*args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("beat", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def refused(*args: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        beat(*args)
    return caught.value


def events() -> list[tuple]:
    return list(PingEvent.objects.order_by("id").values_list("kind", "exit_status", "rid", "body"))


def unreachable(execute, sql, params, many, context):
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


def test_verbose_beat_says_what_it_recorded(clock):
    assert beat("backup", "-v", "2") == ("Recorded success for backup\n", "")
    assert beat("backup", "--fail", "-v", "2") == ("Recorded failure for backup\n", "")


@pytest.mark.parametrize(
    ("args", "kind", "exit_status", "body"),
    [
        (["--start"], "start", None, ""),
        (["--fail"], "fail", None, ""),
        (["--exit-status", "0"], "success", 0, ""),
        (["--exit-status", "3"], "fail", 3, ""),
        (["--log", "rotated 3 files"], "log", None, "rotated 3 files"),
        (["--log"], "log", None, ""),
    ],
)
def test_each_signal_option_records_its_event(clock, args, kind, exit_status, body):
    beat("backup", *args)
    assert events() == [(kind, exit_status, None, body)]


def test_fail_sets_the_failed_status_unless_one_is_given(clock):
    beat("backup", "--fail")
    assert JobHeartbeat.objects.get(pk="backup").status == "failed"
    beat("backup", "--exit-status", "2", "--status", "partial")
    assert JobHeartbeat.objects.get(pk="backup").status == "partial"


def test_rid_pairs_a_start_with_its_finish(clock):
    rid = str(uuid.uuid4())
    beat("backup", "--start", "--rid", rid)
    clock.advance(minutes=3)
    beat("backup", "--rid", rid)
    finish = PingEvent.objects.get(kind="success")
    assert (str(finish.rid), finish.duration) == (rid, timedelta(minutes=3))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backup", "--exit-status", "256"], "invalid exit status 256: use 0 to 255"),
        (["backup", "--exit-status", "-1"], "invalid exit status -1: use 0 to 255"),
        (["backup", "--rid", "nope"], "invalid uuid format"),
        (["backup", "--rid", f"{uuid.uuid4().hex[:-1]}\n"], "invalid uuid format"),
        (["backup", "--start", "--status", "ok"], "--status and --metadata go only with a"),
        (["backup", "--log", "x", "--metadata", "{}"], "--status and --metadata go only with"),
        (["backup", "--start", "--", "true"], "a wrapped command reports its own start"),
        (["backup", "--exit-status", "0", "--", "true"], "a wrapped command reports its own"),
        (["backup", "--rid", str(uuid.uuid4()), "--", "true"], "a wrapped command reports"),
        (["bad name", "--", "touch", "ran"], "invalid job name 'bad name'"),
    ],
)
def test_bad_signal_options_are_one_line_and_write_nothing(clock, args, message):
    error = refused(*args)
    assert str(error).startswith(message)
    assert "\n" not in str(error)
    assert error.returncode == 2
    assert not JobHeartbeat.objects.exists()
    assert not Path("ran").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backup", "--start", "--fail"], "argument --fail: not allowed with argument --start"),
        (["backup", "sh"], "put -- before the command to run: -- sh"),
    ],
)
def test_option_errors_are_refused_by_the_parser(args, message):
    assert message in str(refused(*args))
    assert not JobHeartbeat.objects.exists()


def test_database_down_is_exit_status_3(clock):
    with connection.execute_wrapper(unreachable):
        error = refused("backup")
    assert (str(error), error.returncode) == (
        "database unavailable: connection to server at 127.0.0.1 failed: Connection refused",
        3,
    )


def test_wrapper_reports_start_and_success_with_the_output(clock):
    script = "import sys; print('copied 3 files'); print('warning: slow disk', file=sys.stderr)"
    out, err = beat("backup", "--", PYTHON, "-c", script)
    assert (out, err) == ("copied 3 files\n", "warning: slow disk\n")
    (start_kind, _, rid, _), (kind, exit_status, finish_rid, body) = events()
    assert (start_kind, kind, exit_status, finish_rid) == ("start", "success", 0, rid)
    # Both pipes are read as data comes: their lines may interleave either way.
    assert sorted(body.splitlines()) == ["copied 3 files", "warning: slow disk"]
    job = JobHeartbeat.objects.get(pk="backup")
    assert (job.n_runs, job.last_duration, job.run_deadline) == (1, timedelta(0), None)


def test_wrapper_reports_a_failure_and_exits_with_its_status(clock):
    script = "import sys; print('partial', flush=True); sys.exit('disk full')"
    stdout, stderr = StringIO(), StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("beat", "backup", "--", PYTHON, "-c", script, stdout=stdout, stderr=stderr)
    assert (str(caught.value), caught.value.returncode) == (f"{PYTHON} exited with status 1", 1)
    assert (stdout.getvalue(), stderr.getvalue()) == ("partial\n", "disk full\n")
    kind, exit_status, _, body = events()[1]
    assert (kind, exit_status, sorted(body.splitlines())) == ("fail", 1, ["disk full", "partial"])
    assert JobHeartbeat.objects.get(pk="backup").last_outcome == "fail"


def test_wrapper_keeps_the_tail_of_long_output(clock, settings):
    # 14 bytes end inside the é before the last 0123456789é: its orphaned byte is dropped.
    settings.PING_BODY_LIMIT = 14
    out, _ = beat("backup", "--", PYTHON, "-c", "print('0123456789é' * 100)")
    assert out == "0123456789é" * 100 + "\n"
    assert events()[1][3] == "0123456789é\n"


def test_wrapper_passes_arguments_through_verbatim(clock):
    out, _ = beat("backup", "--status", "ok", "--", "sh", "-c", 'echo "$@"', "sh", "a", "--", "b")
    assert out == "a -- b\n"
    assert JobHeartbeat.objects.get(pk="backup").status == "ok"


def test_wrapper_reports_a_missing_command_as_127(clock):
    stderr = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("beat", "backup", "--", "no-such-command-xyz", stderr=stderr)
    assert caught.value.returncode == 127
    assert stderr.getvalue() == "command not found: no-such-command-xyz\n"
    assert events()[1] == ("fail", 127, events()[0][2], "command not found: no-such-command-xyz")


def test_wrapper_reports_a_killed_command_as_128_plus_signal(clock):
    error = refused("backup", "--", PYTHON, "-c", "import os; os.kill(os.getpid(), 9)")
    assert error.returncode == 137
    assert str(error) == f"{PYTHON} killed by signal 9 (SIGKILL)"
    assert events()[1][:2] == ("fail", 137)


def test_wrapper_runs_the_job_even_when_the_database_is_down(clock, tmp_path):
    marker = tmp_path / "ran"
    stderr = StringIO()
    with connection.execute_wrapper(unreachable):
        call_command("beat", "backup", "--", "touch", str(marker), stderr=stderr)
    assert marker.exists()
    assert stderr.getvalue().splitlines() == [
        f"{kind} not recorded, database unavailable: connection to server at 127.0.0.1 "
        "failed: Connection refused"
        for kind in ("start", "success")
    ]


def test_manage_py_passes_output_byte_for_byte_and_exits_with_the_commands_status(tmp_path):
    """The contract with cron, end to end: output unaltered (it may be redirected to a file),
    the command's exit status, and one line of our own on stderr."""
    env = {
        **os.environ,
        "CRONMONITOR_ENV_FILE": "/dev/null",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    manage = [PYTHON, str(Path(django_settings.BASE_DIR) / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    script = "import sys; sys.stdout.buffer.write(bytes(range(256))); sys.exit('disk full')"
    run = subprocess.run(
        [*manage, "beat", "backup", "--", PYTHON, "-c", script], env=env, capture_output=True
    )
    assert (run.returncode, run.stdout) == (1, bytes(range(256)))
    assert run.stderr.decode() == f"disk full\nCommandError: {PYTHON} exited with status 1\n"


def test_lone_surrogate_in_metadata_is_refused_on_every_database(make_job):
    with pytest.raises(CommandError, match="lone surrogate") as excinfo:
        call_command("beat", "ok", '--metadata={"a": "\\ud800"}', stdout=StringIO())
    assert excinfo.value.returncode == 2
    assert not JobHeartbeat.objects.filter(pk="ok").exists()


def test_beat_without_a_name_names_only_the_name(capsys):
    with pytest.raises(CommandError) as excinfo:
        call_command("beat", stdout=StringIO(), stderr=StringIO())
    assert "required: name" in str(excinfo.value)
    assert "command" not in str(excinfo.value)
