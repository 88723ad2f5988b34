from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from heartbeats.models import JobHeartbeat, PingEvent

pytestmark = pytest.mark.django_db


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
