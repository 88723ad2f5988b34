from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection
from django.test import Client

from cronmonitor.env_casts import env_ping_keys
from heartbeats.models import JobHeartbeat, PingEvent

KEY = "current-ping-key-0123456789"
OLD_KEY = "previous-ping-key-987654321"
METHODS = ["get", "head", "post"]
SUFFIXES = [
    ("", "success", None),
    ("/start", "start", None),
    ("/fail", "fail", None),
    ("/log", "log", None),
    ("/0", "success", 0),
    ("/1", "fail", 1),
    ("/255", "fail", 255),
]


def in_turn(cases: list[tuple]) -> list[tuple]:
    """Each case once, with the two URL forms and the three methods in turn: both forms and
    every method are met, not every case in every form and method (they share one parser)."""
    forms_and_methods = itertools.cycle(itertools.product(["uuid", "key"], METHODS))
    return [(*case, *turn) for case, turn in zip(cases, forms_and_methods, strict=False)]


@pytest.fixture
def ping_keys(settings):
    settings.PING_KEYS = [KEY, OLD_KEY]
    return settings


@pytest.fixture
def job(make_job, clock):
    return make_job("backup", age=timedelta(hours=1))


def ping(client: Client, url: str, method: str = "get", body: bytes | str = b"", **extra):
    return client.generic(method.upper(), url, body, "text/plain", **extra)


def seen(content: bytes, method: str) -> bytes:
    """What the client sees: a HEAD answer has the status and headers, not the body."""
    return b"" if method == "head" else content


def urls(job: JobHeartbeat, suffix: str = "") -> list[str]:
    return [f"/ping/{job.uuid}{suffix}", f"/ping/{KEY}/{job.job_name}{suffix}"]


def assert_ping_headers(response, *, limit: int = 10000) -> None:
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Ping-Body-Limit"] == str(limit)
    assert "no-cache" in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]
    assert "Set-Cookie" not in response
    assert "Cookie" not in response.get("Vary", "")


@pytest.mark.parametrize(("suffix", "kind", "exit_status", "form", "method"), in_turn(SUFFIXES))
def test_every_signal_on_each_url_form_and_method_records_its_event(
    client, ping_keys, job, clock, method, suffix, kind, exit_status, form
):
    url = urls(job, suffix)[form == "key"]
    response = ping(client, url, method)
    assert response.status_code == 200
    assert response.content == seen(b"OK", method)
    assert_ping_headers(response)
    event = PingEvent.objects.get(job=job)
    assert (event.kind, event.exit_status, event.created_at) == (kind, exit_status, clock.now())
    job.refresh_from_db()
    finishing = kind in ("success", "fail")
    assert job.n_runs == (2 if finishing else 1)
    assert job.last_run_at == (clock.now() if finishing else clock.now() - timedelta(hours=1))
    assert job.last_outcome == ("fail" if kind == "fail" else "success")
    assert job.last_start_at == (clock.now() if kind == "start" else None)


def test_a_success_after_a_failure_clears_the_failed_status(client, job, clock):
    client.get(f"/ping/{job.uuid}/fail")
    assert JobHeartbeat.objects.get(pk=job.pk).status == "failed"
    client.get(f"/ping/{job.uuid}")
    job.refresh_from_db()
    assert (job.status, job.last_outcome, job.n_runs) == ("healthy", "success", 3)


@pytest.mark.parametrize("method", METHODS)
def test_unknown_job_wrong_key_and_no_keys_all_answer_not_found(client, settings, job, method):
    settings.PING_KEYS = [KEY]
    answers = [
        ping(client, f"/ping/{uuid.uuid4()}", method),
        ping(client, f"/ping/{KEY}/no-such-job", method),
        ping(client, f"/ping/wrong-key-0123456789abc/{job.job_name}", method),
        ping(client, f"/ping/{KEY[:-1]}/{job.job_name}/start", method),
    ]
    settings.PING_KEYS = []
    answers.append(ping(client, f"/ping/{KEY}/{job.job_name}", method))
    for response in answers:
        assert response.status_code == 404
        assert response.content == seen(b"not found", method)
        assert_ping_headers(response)
    assert not PingEvent.objects.exists()


def test_a_rotated_out_key_still_in_the_list_works(client, ping_keys, job):
    assert client.get(f"/ping/{OLD_KEY}/{job.job_name}").status_code == 200


@pytest.mark.parametrize(
    ("suffix", "reason", "form", "method"),
    in_turn(
        [
            ("/256", "invalid exit status 256: use 0 to 255"),
            ("/1000", "invalid exit status 1000: use 0 to 255"),
            ("/-1", "invalid signal '-1': use start, fail, log or 0 to 255"),
            ("/bogus", "invalid signal 'bogus': use start, fail, log or 0 to 255"),
            ("/START", "invalid signal 'START': use start, fail, log or 0 to 255"),
        ]
    ),
)
def test_bad_suffix_is_refused_with_its_reason(
    client, ping_keys, job, suffix, reason, form, method
):
    response = ping(client, urls(job, suffix)[form == "key"], method)
    assert (response.status_code, response.content) == (400, seen(reason.encode(), method))
    assert_ping_headers(response)
    assert not PingEvent.objects.exists()


@pytest.mark.parametrize(
    ("rid", "form", "method"),
    in_turn(
        [
            (rid,)
            for rid in ("", "nope", "1234", str(uuid.uuid4())[:-1], f"{uuid.uuid4().hex[:-1]}%0A")
        ]
    ),
)
def test_bad_rid_is_refused(client, ping_keys, job, rid, form, method):
    response = ping(client, f"{urls(job, '/start')[form == 'key']}?rid={rid}", method)
    assert response.status_code == 400
    assert response.content == seen(b"invalid uuid format", method)
    assert not PingEvent.objects.exists()


def test_bad_input_is_refused_before_the_key_is_looked_at(client, ping_keys, job):
    """A wrong key answers like an unknown job, so both must meet the same checks first."""
    for key in (KEY, "wrong-key-0123456789abc"):
        assert client.get(f"/ping/{key}/{job.job_name}/nope").status_code == 400
        assert client.get(f"/ping/{key}/bad name!").status_code == 400


@pytest.mark.parametrize("form", ["uuid", "key"])
@pytest.mark.parametrize("method", METHODS)
def test_oversized_body_is_truncated_not_refused(client, ping_keys, job, form, method):
    ping_keys.PING_BODY_LIMIT = 10
    ping_keys.DATA_UPLOAD_MAX_MEMORY_SIZE = 50
    response = ping(client, urls(job, "/fail")[form == "key"], method, "0123456789abcdef" * 10)
    assert response.status_code == 200
    assert_ping_headers(response, limit=10)
    assert PingEvent.objects.get(job=job).body == "0123456789"


def test_body_is_stored_with_remote_address_and_user_agent(client, job):
    client.post(
        f"/ping/{job.uuid}/log",
        "disk 91% full\n",
        "text/plain",
        headers={"User-Agent": "curl/8.5.0", "X-Forwarded-For": "203.0.113.9"},
    )
    event = PingEvent.objects.get(job=job)
    assert (event.body, event.remote_addr, event.user_agent) == (
        "disk 91% full\n",
        "127.0.0.1",
        "curl/8.5.0",
    )


def test_behind_a_proxy_the_address_it_appended_is_stored(client, settings, job):
    settings.BEHIND_HTTPS_PROXY = True
    client.get(
        f"/ping/{job.uuid}",
        headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"},
        secure=True,
    )
    assert PingEvent.objects.get(job=job).remote_addr == "203.0.113.9"


def test_a_form_encoded_body_as_curl_d_sends_it_is_stored_as_is(client, job):
    client.post(f"/ping/{job.uuid}", "rows=42&state=done", "application/x-www-form-urlencoded")
    assert PingEvent.objects.get(job=job).body == "rows=42&state=done"


def test_undecodable_and_nul_bytes_in_a_body_are_stored(client, job):
    client.post(f"/ping/{job.uuid}/fail", b"ok\x00\xff end", "application/octet-stream")
    assert PingEvent.objects.get(job=job).body == "ok\ufffd\ufffd end"


@pytest.mark.parametrize("method", METHODS)
def test_create_makes_a_missing_job_once(db, client, ping_keys, clock, method):
    response = ping(client, f"/ping/{KEY}/nightly-report?create=1", method, "first")
    assert (response.status_code, response.content) == (201, seen(b"Created", method))
    assert_ping_headers(response)
    job = JobHeartbeat.objects.get(pk="nightly-report")
    assert (job.n_runs, job.status, job.last_run_at) == (1, "healthy", clock.now())
    assert PingEvent.objects.get(job=job).body == "first"
    clock.advance(minutes=5)
    response = ping(client, f"/ping/{KEY}/nightly-report?create=1", method)
    assert (response.status_code, response.content) == (200, seen(b"OK", method))
    assert JobHeartbeat.objects.get(pk="nightly-report").n_runs == 2


def test_create_with_start_or_log_does_not_count_a_run(db, client, ping_keys, clock):
    assert client.get(f"/ping/{KEY}/etl/start?create=1").status_code == 201
    assert client.get(f"/ping/{KEY}/sync/log?create=1").status_code == 201
    assert list(JobHeartbeat.objects.order_by("pk").values_list("pk", "n_runs")) == [
        ("etl", 0),
        ("sync", 0),
    ]


def test_create_needs_the_key_and_a_valid_name(db, client, ping_keys, clock):
    wrong = client.get("/ping/wrong-key-0123456789abc/etl?create=1")
    assert (wrong.status_code, wrong.content) == (404, b"not found")
    without = client.get(f"/ping/{KEY}/etl")
    assert (without.status_code, without.content) == (404, b"not found")
    bad = client.get(f"/ping/{KEY}/{'x' * 129}?create=1")
    assert bad.status_code == 400
    assert bad.content.startswith(b"invalid job name")
    assert not JobHeartbeat.objects.exists()


def test_a_name_with_a_trailing_newline_is_refused_not_created(db, client, ping_keys, clock):
    response = client.get(f"/ping/{KEY}/backup%0A?create=1")
    assert (response.status_code, response.content.decode()) == (
        400,
        "invalid job name 'backup\\n': use 1 to 128 letters, digits, '.', '_', '-' or ':'",
    )
    assert not JobHeartbeat.objects.exists()


@pytest.mark.parametrize("method", METHODS)
def test_a_paused_job_records_pings_and_stays_paused(client, ping_keys, make_job, clock, method):
    job = make_job("paused-job", age=timedelta(hours=1), paused=True)
    for url in urls(job) + urls(job, "/fail"):
        assert ping(client, url, method).status_code == 200
    job.refresh_from_db()
    assert job.paused
    assert job.n_runs == 5
    assert PingEvent.objects.filter(job=job).count() == 4


def test_start_then_finish_gives_the_duration(client, job, clock):
    client.get(f"/ping/{job.uuid}/start")
    clock.advance(seconds=90)
    client.get(f"/ping/{job.uuid}/0")
    finish = PingEvent.objects.get(job=job, kind="success")
    job.refresh_from_db()
    assert finish.duration == job.last_duration == timedelta(seconds=90)
    assert job.run_deadline is None


def start_two_runs(client, job, clock) -> tuple[uuid.UUID, uuid.UUID]:
    """Run A starts, then run B 10 s later: overlapping runs told apart by their run ids."""
    first, second = uuid.uuid4(), uuid.uuid4()
    client.get(f"/ping/{job.uuid}/start", {"rid": str(first)})
    clock.advance(seconds=10)
    client.get(f"/ping/{job.uuid}/start", {"rid": str(second)})
    return first, second


def test_run_ids_pair_each_finish_with_its_own_start(client, job, clock):
    first, second = start_two_runs(client, job, clock)
    clock.advance(seconds=50)
    client.get(f"/ping/{job.uuid}/fail", {"rid": str(first)})
    clock.advance(seconds=5)
    client.get(f"/ping/{job.uuid}", {"rid": str(second)})
    durations = dict(PingEvent.objects.exclude(kind="start").values_list("rid", "duration"))
    assert durations == {first: timedelta(seconds=60), second: timedelta(seconds=55)}


def test_an_older_runs_finish_does_not_hide_a_newer_run_hanging(client, job, clock, settings):
    from heartbeats.alerts import check_run

    settings.SLACK_WEBHOOK_URL = ""
    first, second = start_two_runs(client, job, clock)
    clock.advance(seconds=10)
    client.get(f"/ping/{job.uuid}", {"rid": str(first)})
    job.refresh_from_db()
    assert job.run_deadline == job.last_start_at + timedelta(minutes=60)
    clock.advance(minutes=61)
    result = check_run.run_check(now=clock.now(), trigger="manual", dry_run=True)
    assert [(j.job_name, j.detail) for j in result.jobs] == [("backup", "hung")]
    client.get(f"/ping/{job.uuid}", {"rid": str(second)})
    job.refresh_from_db()
    assert job.run_deadline is None


def test_a_finish_whose_start_is_gone_still_ends_the_run(client, job, clock):
    """Event pruning may drop a long run's start; its finish must not leave it 'running'."""
    rid = uuid.uuid4()
    client.get(f"/ping/{job.uuid}/start", {"rid": str(rid)})
    PingEvent.objects.filter(kind="start").delete()
    client.get(f"/ping/{job.uuid}", {"rid": str(rid)})
    job.refresh_from_db()
    assert job.run_deadline is None
    client.get(f"/ping/{job.uuid}/start")
    client.get(f"/ping/{job.uuid}", {"rid": str(uuid.uuid4())})  # a start without a run id
    job.refresh_from_db()
    assert job.run_deadline is None


def test_a_finish_without_a_start_has_no_duration(client, job, clock):
    client.get(f"/ping/{job.uuid}", {"rid": str(uuid.uuid4())})
    client.get(f"/ping/{job.uuid}/fail")
    assert list(PingEvent.objects.values_list("duration", flat=True)) == [None, None]


def test_pings_need_no_csrf_token(job):
    csrf_client = Client(enforce_csrf_checks=True)
    assert csrf_client.post(f"/ping/{job.uuid}", "x", "text/plain").status_code == 200


def test_other_methods_are_not_allowed(client, job):
    response = client.put(f"/ping/{job.uuid}")
    assert (response.status_code, response["Allow"]) == (405, "GET, HEAD, POST")
    assert_ping_headers(response)
    assert not PingEvent.objects.exists()


@pytest.mark.parametrize("path", ["/ping/", "/ping/not-a-uuid", "/ping/a/b/start/extra"])
def test_malformed_ping_urls_answer_not_found_in_text(client, path):
    response = client.get(path)
    assert (response.status_code, response.content) == (404, b"not found")
    assert_ping_headers(response)


def test_database_down_answers_503_with_retry_after(client, job):
    def unreachable(execute, sql, params, many, context):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    with connection.execute_wrapper(unreachable):
        response = client.post(f"/ping/{job.uuid}", "output", "text/plain")
    assert (response.status_code, response["Retry-After"]) == (503, "30")
    assert response.content == b"database unavailable, try again later"
    assert_ping_headers(response)


@pytest.mark.parametrize("other_jobs", [0, 1000])
def test_one_ping_is_one_upsert_and_one_insert(client, job, other_jobs, django_assert_num_queries):
    JobHeartbeat.objects.bulk_create(JobHeartbeat(job_name=f"other-{i}") for i in range(other_jobs))
    # The savepoint pair is the test's transaction; in production it is BEGIN and COMMIT.
    with django_assert_num_queries(4) as queries:
        client.post(f"/ping/{job.uuid}", "output", "text/plain")
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements == ["SAVEPOINT", "UPDATE", "INSERT", "RELEASE"]


def test_a_finish_that_moves_the_due_time_adds_one_update(
    client, make_job, clock, django_assert_num_queries
):
    job = make_job("every-5-min", period=timedelta(minutes=5), grace=timedelta(minutes=2))
    with django_assert_num_queries(5) as queries:
        client.get(f"/ping/{job.uuid}")
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements == ["SAVEPOINT", "UPDATE", "UPDATE", "INSERT", "RELEASE"]


def test_a_non_ascii_key_is_just_a_wrong_key(client, ping_keys, job):
    response = client.get(f"/ping/{quote('clé-0123456789abcdef')}/{job.job_name}")
    assert (response.status_code, response.content) == (404, b"not found")


def test_ping_keys_are_read_as_a_list(monkeypatch):
    monkeypatch.setenv("PING_KEY", f" {KEY}, {OLD_KEY} ,")
    assert env_ping_keys("PING_KEY") == [KEY, OLD_KEY]


@pytest.mark.parametrize("key", ["short", "has/slash-0123456789", str(uuid.uuid4())])
def test_unusable_ping_keys_stop_start_up(monkeypatch, key):
    monkeypatch.setenv("PING_KEY", f"{KEY},{key}")
    with pytest.raises(ImproperlyConfigured, match=r"^PING_KEY must list keys of 16"):
        env_ping_keys("PING_KEY")
