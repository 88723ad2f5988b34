"""An independently written Healthchecks.io client, py-healthchecks.io's sync `Client`, drives
the live app: if it works against cronmonitor, its users only change the base URL."""

from __future__ import annotations

import uuid

import pytest
from healthchecks_io import BadAPIRequestError, CheckNotFoundError, CheckTrap, Client

from heartbeats.models import JobHeartbeat, PingEvent

KEY = "live-server-ping-key-0123"


@pytest.fixture
def hc(live_server, settings):
    settings.PING_KEYS = [KEY]
    with Client(ping_url=f"{live_server.url}/ping/", ping_key=KEY) as client:
        yield client


def test_success_start_fail_and_exit_status_pings_by_uuid_and_by_name(hc):
    job = JobHeartbeat.objects.create(job_name="backup")
    code = str(job.uuid)
    assert hc.start_ping(uuid=code) == (True, "OK")
    assert hc.success_ping(uuid=code, data="copied 3 files") == (True, "OK")
    assert hc.fail_ping(slug="backup", data="disk full") == (True, "OK")
    assert hc.exit_code_ping(exit_code=0, slug="backup") == (True, "OK")
    assert hc.exit_code_ping(exit_code=3, uuid=code) == (True, "OK")
    events = list(PingEvent.objects.order_by("id").values_list("kind", "exit_status", "body"))
    assert events == [
        ("start", None, ""),
        ("success", None, "copied 3 files"),
        ("fail", None, "disk full"),
        ("success", 0, ""),
        ("fail", 3, ""),
    ]
    assert PingEvent.objects.filter(user_agent__startswith="py-healthchecks.io/").count() == 5
    job.refresh_from_db()
    assert (job.n_runs, job.last_outcome, job.run_deadline) == (4, "fail", None)
    assert PingEvent.objects.get(kind="success", exit_status=None).duration is not None


def test_check_trap_reports_a_run_and_its_failure(hc):
    JobHeartbeat.objects.create(job_name="report")
    with pytest.raises(RuntimeError), CheckTrap(hc, slug="report"):
        raise RuntimeError("no data for today")
    kinds = list(PingEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["start", "fail"]
    assert PingEvent.objects.get(kind="fail").body.startswith("no data for today")


def test_the_clients_errors_match_our_answers(hc, live_server):
    job = JobHeartbeat.objects.create(job_name="backup")
    with pytest.raises(CheckNotFoundError):
        hc.success_ping(uuid=str(uuid.uuid4()))
    with pytest.raises(CheckNotFoundError):
        hc.success_ping(slug="no-such-job")
    wrong = Client(ping_url=f"{live_server.url}/ping/", ping_key="wrong-key-0123456789")
    with wrong, pytest.raises(CheckNotFoundError):
        wrong.success_ping(slug="backup")
    with pytest.raises(BadAPIRequestError, match="invalid exit status 256"):
        hc.exit_code_ping(exit_code=256, uuid=str(job.uuid))
    assert not PingEvent.objects.exists()
