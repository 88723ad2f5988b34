"""The summary figures against a hand-built data set whose answers are worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from heartbeats.domain import checker_health, rules, schedules
from heartbeats.domain.checker_health import CheckerProblem
from heartbeats.models import Alert, AlertDelivery, CheckRun, JobHeartbeat, PingEvent
from heartbeats.reporting import counters, prometheus, summary_figures
from heartbeats.signals import retention

NOW = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # 12:00 in Berlin, the day after DST began
H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.fixture(autouse=True)
def operator_settings(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    settings.STALE_AFTER_HOURS = 24
    settings.ALERT_SUPPRESSION_HOURS = 6
    settings.RECOVERY_WINDOW_MINUTES = 60
    settings.HEALTHCHECK_SCHEDULE = "0 */6 * * *"
    return settings


def alert(job, at, *, kind="down", **deliveries):
    """An alert created at `at` with one delivery per channel: state or (state, last_error)."""
    row = Alert.objects.create(job_id=job, kind=kind, created_at=at, done=True)
    for channel, state in deliveries.items():
        state, error = state if isinstance(state, tuple) else (state, "")
        AlertDelivery.objects.create(
            alert=row, channel=channel, state=state, last_error=error, created_at=at
        )
    return row


def ping(job, at, kind="success"):
    PingEvent.objects.create(job_id=job, kind=kind, created_at=at)


def run(started, suppressed, *, outcome="ok", **fields):
    return CheckRun.objects.create(
        started_at=started, finished_at=started + timedelta(seconds=5), outcome=outcome,
        suppressed_alerts=suppressed, **fields,
    )  # fmt: skip


@pytest.fixture
def world(make_job):
    """Six jobs, nine alerts, five checker runs; the expected figures are in the tests."""
    make_job("fresh", age=H, now=NOW)
    make_job("recovered", age=H / 2, now=NOW, last_alert_at=NOW - 3 * H)
    make_job("stale-a", age=30 * H, now=NOW, last_alert_at=NOW - 2 * H)
    make_job("stale-b", age=48 * H, now=NOW, last_alert_at=NOW - 30 * H)
    make_job("scheduled-late", age=12 * H, now=NOW, period=H, due_at=NOW - 10 * H)
    make_job("scheduled-ok", age=40 * H, now=NOW, period=48 * H, due_at=NOW + H, grace=2 * H)

    alert("stale-a", NOW - 2 * H, slack="sent", email=("failed", "boom"))
    alert("recovered", NOW - 3 * H, slack="sent")
    ping("recovered", NOW - 3 * H + timedelta(minutes=59))
    alert("stale-b", NOW - 5 * H, kind="failed", slack=("sent", "timeout"))
    ping("stale-b", NOW - 5 * H + timedelta(minutes=61))
    alert("fresh", NOW - 20 * H, kind="hung", email="sent")
    ping("fresh", NOW - 20 * H + timedelta(minutes=60))
    alert("fresh", NOW - 6 * H, slack=("failed", "500"), email=("expired", "gave up"))
    alert("recovered", NOW - 2 * H, kind="recovery", slack="sent")
    alert("stale-b", NOW - 72 * H, slack="sent")
    ping("stale-b", NOW - 72 * H + timedelta(minutes=10), kind="fail")
    alert("scheduled-late", NOW - 240 * H, slack="sent")
    ping("scheduled-late", NOW - 240 * H + timedelta(minutes=30))
    alert("stale-a", NOW - 40 * 24 * H, slack="sent")

    run(NOW - H, 3)
    run(NOW - 7 * H, 1)
    run(NOW - 48 * H, 4)
    run(NOW - H / 2, 10, dry_run=True, trigger="manual")
    run(NOW - 20 * 24 * H, 2, outcome="failed", error="boom")


def test_job_counts_follow_the_runbook_view(world):
    assert summary_figures.job_counts(now=NOW) == summary_figures.JobCounts(
        total=6,
        healthy=2,  # up: the late one is not counted healthy
        stale=3,
        alerted_24h=2,
        most_recent_heartbeat=NOW - H / 2,
        oldest_heartbeat=NOW - 48 * H,
        states={"new": 0, "up": 2, "late": 1, "down": 3, "failed": 0, "running": 0, "paused": 0},
    )


def test_a_failed_job_is_neither_healthy_nor_stale(world, make_job):
    make_job("cleanup", age=H, now=NOW, last_outcome="fail", status="failed")
    counts = summary_figures.job_counts(now=NOW)
    assert (counts.healthy, counts.stale, counts.states["failed"]) == (2, 3, 1)


def test_job_counts_of_an_empty_table(db):
    empty = dict.fromkeys(["new", "up", "late", "down", "failed", "running", "paused"], 0)
    assert summary_figures.job_counts(now=NOW) == summary_figures.JobCounts(
        0, 0, 0, 0, None, None, empty
    )


@pytest.mark.parametrize(
    ("name", "sent", "suppressed", "alerted", "recovered", "suppression", "false_positive"),
    [
        ("24h", 4, 4, 4, 2, 4 / 8, 2 / 4),
        ("7d", 5, 8, 4, 2, 8 / 13, 2 / 4),
        ("30d", 6, 10, 5, 3, 10 / 16, 3 / 5),
    ],
)
def test_window_metrics(
    world, name, sent, suppressed, alerted, recovered, suppression, false_positive
):
    window = summary_figures.window_metrics(name, now=NOW)
    assert (window.alerts_sent, window.alerts_suppressed) == (sent, suppressed)
    assert (window.alerted_jobs, window.recovered_jobs) == (alerted, recovered)
    assert window.suppression_rate == pytest.approx(suppression)
    assert window.false_positive_rate == pytest.approx(false_positive)
    assert window.failures == {
        "slack": summary_figures.ChannelFailures(failed=1, errored=2),
        "email": summary_figures.ChannelFailures(failed=2, errored=2),
    }


def test_rates_are_undefined_without_alerts(db):
    window = summary_figures.window_metrics("24h", now=NOW)
    assert (window.alerts_sent, window.suppression_rate, window.false_positive_rate) == (
        0, None, None
    )  # fmt: skip
    assert set(window.failures) == {"slack", "email"}


def test_recovery_window_is_a_setting(world, settings):
    settings.RECOVERY_WINDOW_MINUTES = 62
    assert summary_figures.window_metrics("24h", now=NOW).recovered_jobs == 3


def test_daily_alerts_in_the_operators_days(world):
    days = summary_figures.daily_alerts(now=NOW)
    assert [(d.day, d.alerts_sent, d.unique_jobs) for d in days] == [
        (date(2026, 3, 24), 0, 0),
        (date(2026, 3, 25), 0, 0),
        (date(2026, 3, 26), 0, 0),
        (date(2026, 3, 27), 1, 1),
        (date(2026, 3, 28), 0, 0),
        (date(2026, 3, 29), 1, 1),
        (date(2026, 3, 30), 3, 3),
    ]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "alerts", "expected"),
    [
        pytest.param(
            utc(2026, 3, 30, 10),
            [
                (utc(2026, 3, 23, 22, 59), "a"),  # 23:59 CET on the 23rd: before the 7 days
                (utc(2026, 3, 23, 23, 0), "a"),  # midnight CET: the first of the 7 days
                (utc(2026, 3, 28, 22, 59), "a"),  # 23:59 CET
                (utc(2026, 3, 28, 23, 0), "a"),  # 00:00 CET on the 23-hour day
                (utc(2026, 3, 29, 1, 30), "b"),  # 03:30 CEST, after the clocks jumped
                (utc(2026, 3, 29, 21, 59), "b"),  # 23:59 CEST
                (utc(2026, 3, 29, 22, 0), "a"),  # 00:00 CEST on the 30th
            ],
            {date(2026, 3, 24): (1, 1), date(2026, 3, 28): (1, 1), date(2026, 3, 29): (3, 2),
             date(2026, 3, 30): (1, 1)},
            id="spring-forward",
        ),
        pytest.param(
            utc(2026, 10, 26, 10),
            [
                (utc(2026, 10, 24, 21, 59), "a"),  # 23:59 CEST on the 24th
                (utc(2026, 10, 24, 22, 0), "a"),  # 00:00 CEST on the 25-hour day
                (utc(2026, 10, 25, 0, 30), "b"),  # 02:30 CEST, the first time
                (utc(2026, 10, 25, 1, 30), "b"),  # 02:30 CET, the second time
                (utc(2026, 10, 25, 22, 59), "b"),  # 23:59 CET
                (utc(2026, 10, 25, 23, 0), "a"),  # 00:00 CET on the 26th
            ],
            {date(2026, 10, 24): (1, 1), date(2026, 10, 25): (4, 2), date(2026, 10, 26): (1, 1)},
            id="fall-back",
        ),
    ],
)  # fmt: skip
def test_daily_alerts_across_dst(make_job, now, alerts, expected):
    make_job("a", now=now)
    make_job("b", now=now)
    for at, job in alerts:
        alert(job, at, slack="sent")
    days = summary_figures.daily_alerts(now=now)
    assert len(days) == 7
    assert days[-1].day == now.date()
    assert {d.day: (d.alerts_sent, d.unique_jobs) for d in days if d.alerts_sent} == expected


def test_stale_jobs_most_overdue_first(world):
    stale = summary_figures.stale_jobs(now=NOW)
    assert [(job.job_name, job.overdue) for job in stale] == [
        ("stale-b", 24 * H),
        ("scheduled-late", 10 * H),
        ("stale-a", 6 * H),
    ]
    assert stale[0].last_alert_at == NOW - 30 * H


def test_stale_jobs_list_is_capped(make_job):
    for i in range(5):
        make_job(f"job-{i}", age=(30 + i) * H, now=NOW)
    assert [job.job_name for job in summary_figures.stale_jobs(now=NOW, limit=2)] == [
        "job-4",
        "job-3",
    ]


def test_checker_status_ignores_dry_runs(world):
    status = summary_figures.checker_status(now=NOW)
    assert status.last_run.started_at == NOW - H
    # 11:00 CEST: the runs due at 12:00 and 18:00 CEST, plus the slack.
    assert status.deadline == utc(2026, 3, 30, 16, 5)
    assert status.problem is None
    assert (
        summary_figures.checker_status(now=utc(2026, 3, 30, 16, 6)).problem
        == CheckerProblem.OVERDUE
    )


def test_checker_status_reports_a_failed_last_run(db):
    run(NOW - H, 0, outcome="failed", error="database went away")
    assert summary_figures.checker_status(now=NOW).problem == CheckerProblem.LAST_RUN_FAILED


def test_checker_never_ran(db):
    status = summary_figures.checker_status(now=NOW)
    assert (status.last_run, status.deadline, status.problem) == (
        None, None, CheckerProblem.NEVER_RAN
    )  # fmt: skip


def test_recent_runs_newest_first_dry_runs_included(world):
    runs = summary_figures.recent_runs()
    assert [r.started_at for r in runs] == [
        NOW - H / 2, NOW - H, NOW - 7 * H, NOW - 48 * H, NOW - 20 * 24 * H
    ]  # fmt: skip
    assert len(summary_figures.recent_runs(limit=2)) == 2


def test_job_readings_apply_the_state_rule(world):
    readings = {r.job_name: r for r in prometheus.job_readings(now=NOW)}
    assert {name: r.state for name, r in readings.items()} == {
        "fresh": rules.JobState.UP,
        "recovered": rules.JobState.UP,
        "stale-a": rules.JobState.DOWN,
        "stale-b": rules.JobState.DOWN,
        "scheduled-late": rules.JobState.DOWN,
        "scheduled-ok": rules.JobState.LATE,
    }
    assert [name for name, r in readings.items() if r.stale] == [
        "scheduled-late", "stale-a", "stale-b"
    ]  # fmt: skip


WORLD_COUNTERS = {
    ("alerts_sent", "slack"): 6,
    ("alerts_failed", "slack"): 1,
    ("alerts_sent", "email"): 1,
    ("alerts_failed", "email"): 2,
    ("alerts_suppressed", ""): 10,  # dry runs do not count
}


def test_counter_totals(world):
    assert counters.totals() == WORLD_COUNTERS


def test_counters_never_go_down_whatever_retention_removes(world):
    retention.prune(now=NOW + 80 * D)  # the 40-day-old alert and the 20-day-old run
    assert (Alert.objects.count(), CheckRun.objects.count()) == (8, 4)
    assert counters.totals() == WORLD_COUNTERS
    retention.prune(now=NOW + 400 * D)  # every job (all deprecated by then), alert and run
    assert (JobHeartbeat.objects.count(), Alert.objects.count(), CheckRun.objects.count()) == (
        0, 0, 0,
    )  # fmt: skip
    assert counters.totals() == WORLD_COUNTERS
    samples = {
        (s.name, tuple(s.labels.values())): s.value
        for family in text_string_to_metric_families(scrape())
        for s in family.samples
    }
    assert samples[("cronmonitor_alerts_sent_total", ("slack",))] == 6
    assert samples[("cronmonitor_alerts_suppressed_total", ())] == 10


def scrape(now: datetime = NOW) -> str:
    return b"".join(prometheus.exposition(now=now)).decode()


def test_metrics_stream_the_per_job_series_in_chunks(world, monkeypatch):
    monkeypatch.setattr(prometheus, "SERIES_PER_CHUNK", 4)
    chunks = list(prometheus.exposition(now=NOW))
    assert len(chunks) == 4  # 4 + 2 job series, the per-state totals, the fixed figures
    text = b"".join(chunks).decode()
    assert text.count("# TYPE cronmonitor_job_seconds_since_heartbeat gauge") == 1
    ages = {
        s.labels["job"]: s.value
        for family in text_string_to_metric_families(text)
        if family.name == "cronmonitor_job_seconds_since_heartbeat"
        for s in family.samples
    }
    assert ages == {
        "fresh": 3600, "recovered": 1800, "scheduled-late": 12 * 3600, "scheduled-ok": 40 * 3600,
        "stale-a": 30 * 3600, "stale-b": 48 * 3600,
    }  # fmt: skip
    assert 'cronmonitor_jobs{state="down"} 3.0' in text
    assert "cronmonitor_stale_jobs 3.0" in text


def test_metrics_of_no_job_still_declare_the_series(db):
    text = scrape()
    assert "# TYPE cronmonitor_job_seconds_since_heartbeat gauge" in text
    assert 'cronmonitor_jobs{state="up"} 0.0' in text


@pytest.mark.parametrize(
    ("last_started", "cron", "tz", "deadline"),
    [
        (utc(2026, 3, 2, 6, 0, 3), "0 */6 * * *", "UTC", utc(2026, 3, 2, 18, 5)),
        # Friday's run: Monday and Tuesday are the next two; the weekend is not missed.
        (utc(2026, 3, 6, 2, 0, 2), "0 2 * * 1-5", "UTC", utc(2026, 3, 10, 2, 5)),
        # Midnight CET on the night the clocks jump: 06:00 and 12:00 CEST follow.
        (utc(2026, 3, 28, 23, 0, 1), "0 */6 * * *", "Europe/Berlin", utc(2026, 3, 29, 10, 5)),
    ],
)
def test_checker_deadline_is_two_scheduled_runs_later(last_started, cron, tz, deadline):
    slack = timedelta(minutes=5)
    assert (
        schedules.checker_deadline(last_started=last_started, cron=cron, tz=tz, slack=slack)
        == deadline
    )


@pytest.mark.parametrize(
    ("now", "deadline", "failed", "problem"),
    [
        (NOW, None, False, CheckerProblem.NEVER_RAN),
        (NOW, NOW, False, None),
        (NOW, NOW, True, CheckerProblem.LAST_RUN_FAILED),
        (NOW + timedelta(microseconds=1), NOW, True, CheckerProblem.OVERDUE),
    ],
)
def test_checker_problem(now, deadline, failed, problem):
    assert checker_health.checker_problem(now=now, deadline=deadline, last_failed=failed) == problem


def test_sql_and_python_agree_on_stale_jobs_at_the_boundaries(make_job):
    """The one stale count: the summary's count and list and /metrics' readings all select by
    `queries.stale_q`, paused and failed jobs included."""
    tick = timedelta(microseconds=1)
    make_job("exactly-24h", age=24 * H, now=NOW)
    make_job("just-over-24h", age=24 * H + tick, now=NOW)
    make_job("due-now", age=H, now=NOW, period=H, due_at=NOW)
    make_job("due-just-before", age=H, now=NOW, period=H, due_at=NOW - tick)
    make_job("old-but-not-due", age=100 * H, now=NOW, period=H, due_at=NOW + tick)
    make_job("paused-silent", age=48 * H, now=NOW, paused=True)
    make_job("failed-silent", age=48 * H, now=NOW, last_outcome="fail")
    python = {r.job_name for r in prometheus.job_readings(now=NOW) if r.stale}
    assert python == {"just-over-24h", "due-just-before", "paused-silent", "failed-silent"}
    assert {job.job_name for job in summary_figures.stale_jobs(now=NOW)} == python
    assert summary_figures.job_counts(now=NOW).stale == len(python)
