"""The SQL in queries.py and the Python in rules.py must pick the same rows, boundaries too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import BooleanField, Case, When
from hypothesis import given, settings
from hypothesis import strategies as st

from heartbeats.domain import policy, queries, rules
from heartbeats.models import JobHeartbeat
from tests.conftest import T0

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
S = timedelta(seconds=1)
THRESHOLDS = rules.Thresholds.from_hours(24, 6)


@pytest.fixture
def population(make_job):
    ages = [H, 24 * H - S, 24 * H, 24 * H + S, 48 * H]
    alerts = [None, 6 * H - S, 6 * H, 6 * H + S, 30 * H]
    n = 0
    for age in ages:
        for since in alerts:
            n += 1
            make_job(f"j{n}", age=age, last_alert_at=None if since is None else T0 - since)
    make_job("due-past", age=H, due_at=T0 - S, period=H)
    make_job("due-now", age=H, due_at=T0, period=H)
    make_job("failed", age=H, last_outcome="fail")
    make_job("hung", age=H, run_deadline=T0 - S, last_start_at=T0 - H)
    make_job("paused-stale", age=48 * H, paused=True)
    # Incidents: a recent alert holds repeats only while the job has not recovered since.
    recent = T0 - H
    for name, fields in {
        "fail-same-incident": {"last_success_at": recent - S},
        "fail-recovered": {"last_success_at": recent + S},
        "fail-recovered-at-alert": {"last_success_at": recent},
        "fail-fresh-window": {"watched_since": recent + S},
        "fail-flapping-recovered": {"last_success_at": recent + S, "flapping": True},
    }.items():
        make_job(name, age=H, last_outcome="fail", last_alert_at=recent, **fields)
    # A fresh window moves an unscheduled job's stale cutoff, to the second.
    make_job("watched-24h-ago", age=48 * H, watched_since=T0 - 24 * H)
    make_job("watched-24h-1s-ago", age=48 * H, watched_since=T0 - 24 * H - S)
    make_job("watched-before-run", age=30 * H, watched_since=T0 - 40 * H)


def _python(predicate) -> set[str]:
    return {job.job_name for job in JobHeartbeat.objects.all() if predicate(queries.job_facts(job))}


def test_stale(population):
    sql = set(
        JobHeartbeat.objects.filter(queries.stale_q(now=T0, stale_after=24 * H)).values_list(
            "job_name", flat=True
        )
    )
    assert sql == _python(lambda f: rules.is_stale(f, now=T0, stale_after=24 * H))
    assert "j16" in sql and "j11" not in sql  # 24 h + 1 s is stale, exactly 24 h is not
    assert "watched-24h-1s-ago" in sql and "watched-24h-ago" not in sql
    assert "watched-before-run" in sql


def test_suppressed_within_an_incident_only(population):
    suppressed = queries.alert_state_q(rules.AlertState.SUPPRESSED, now=T0, thresholds=THRESHOLDS)
    sql = set(JobHeartbeat.objects.filter(suppressed).values_list("job_name", flat=True))
    assert {"fail-same-incident", "fail-recovered-at-alert", "fail-flapping-recovered"} <= sql
    assert not {"fail-recovered", "fail-fresh-window"} & sql


def test_problem(population):
    problem = queries.problem_q(now=T0, stale_after=24 * H)
    sql = set(JobHeartbeat.objects.filter(problem).values_list("job_name", flat=True))
    assert sql == _python(lambda f: rules.problem(f, now=T0, stale_after=24 * H) is not None)
    assert {"failed", "hung", "due-past"} <= sql
    assert not {"due-now", "paused-stale"} & sql


def test_attention_branches_select_what_attention_selects(population):
    JobHeartbeat.objects.filter(pk__in=["j2", "hung"]).update(alerted=True)
    JobHeartbeat.objects.filter(pk="paused-stale").update(alerted=True)
    branches = queries.attention_branches(now=T0, stale_after=24 * H)
    by_branch = set()
    for branch in branches:
        by_branch |= set(JobHeartbeat.objects.filter(branch).values_list("job_name", flat=True))
    whole = queries.attention_q(now=T0, stale_after=24 * H)
    assert by_branch == set(JobHeartbeat.objects.filter(whole).values_list("job_name", flat=True))
    assert "j2" in by_branch and "paused-stale" not in by_branch


@pytest.mark.parametrize("state", list(rules.AlertState))
def test_alert_state(population, state):
    sql = set(
        JobHeartbeat.objects.filter(
            queries.alert_state_q(state, now=T0, thresholds=THRESHOLDS)
        ).values_list("job_name", flat=True)
    )
    assert sql == _python(lambda f: rules.alert_state(f, now=T0, thresholds=THRESHOLDS) == state)
    assert sql


def test_alert_state_annotation(population):
    annotated = dict(
        queries.with_alert_state(
            JobHeartbeat.objects.all(), now=T0, thresholds=THRESHOLDS
        ).values_list("job_name", "alert_state")
    )
    assert annotated == {
        job.job_name: rules.alert_state(queries.job_facts(job), now=T0, thresholds=THRESHOLDS).value
        for job in JobHeartbeat.objects.all()
    }


@pytest.fixture
def state_population(population, make_job, settings):
    """Beside `population`: one job per state, at the edges of late, running and hung."""
    settings.DEFAULT_GRACE_MINUTES = 30
    grace = timedelta(minutes=30)
    make_job("late-edge", age=H, due_at=T0 + grace - S, period=H)
    make_job("up-edge", age=H, due_at=T0 + grace, period=H)
    make_job("late-own-grace", age=H, due_at=T0 + 5 * S, period=H, grace=10 * S)
    make_job("up-own-grace", age=H, due_at=T0 + 10 * S, period=H, grace=10 * S)
    make_job("running", age=H, last_start_at=T0 - H, run_deadline=T0)
    make_job("new", age=H, n_runs=0)
    make_job("new-stale", age=48 * H, n_runs=0)
    make_job("paused-failed", age=H, paused=True, last_outcome="fail")
    make_job("failed-running", age=H, last_outcome="fail", last_start_at=T0, run_deadline=T0 + H)


def test_job_state_sql_agrees_with_python(state_population):
    annotated = dict(
        queries.with_job_state(JobHeartbeat.objects.all(), now=T0, stale_after=24 * H).values_list(
            "job_name", "job_state"
        )
    )
    python = {
        job.job_name: rules.job_state(queries.job_facts(job), now=T0, stale_after=24 * H).value
        for job in JobHeartbeat.objects.all()
    }
    assert annotated == python
    expected = {
        "late-edge": "late",
        "up-edge": "up",
        "late-own-grace": "late",
        "up-own-grace": "up",
        "running": "running",
        "hung": "down",
        "new": "new",
        "new-stale": "down",
        "paused-failed": "paused",
        "failed-running": "failed",
    }
    assert {name: python[name] for name in expected} == expected
    for state in rules.JobState:
        selected = JobHeartbeat.objects.filter(
            queries.job_state_q(state, now=T0, stale_after=24 * H)
        ).values_list("job_name", flat=True)
        assert set(selected) == {name for name, value in python.items() if value == state}
        assert selected, state


# Generated jobs: moments in whole seconds around T0, the thresholds' edges offered first.
EDGES = [0, 1, 10, 1800, 6 * 3600, 24 * 3600]
OFFSETS = st.sampled_from(
    [sign * edge + nudge for edge in EDGES for sign in (1, -1) for nudge in (-1, 0, 1)]
)
MOMENTS = (OFFSETS | st.integers(-60 * 3600, 60 * 3600)).map(lambda s: T0 + s * S)
MAYBE = st.none() | MOMENTS
GENERATED_JOB = st.fixed_dictionaries(
    {
        "last_run_at": MOMENTS,
        "watched_since": MAYBE,
        "due_at": MAYBE,
        "grace": st.none() | st.sampled_from([0, 10, 1800, 7200]).map(lambda s: s * S),
        "last_outcome": st.sampled_from(["success", "fail"]),
        "last_start_at": MAYBE,
        "run_deadline": MAYBE,
        "paused": st.booleans(),
        "n_runs": st.sampled_from([0, 1]),
        "last_alert_at": MAYBE,
        "last_success_at": MAYBE,
        "flapping": st.booleans(),
    }
)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(GENERATED_JOB, min_size=1, max_size=15))
def test_every_sql_twin_agrees_with_its_rule_on_generated_jobs(rows):
    """Each annotation or filter of queries.py equals its rule in rules.py or policy.py, row by
    row: deadline, stale, state, alert state and grace in force."""
    JobHeartbeat.objects.all().delete()
    JobHeartbeat.objects.bulk_create(
        JobHeartbeat(job_name=f"g{n}", created_at=row["last_run_at"], **row)
        for n, row in enumerate(rows)
    )
    stale_after = THRESHOLDS.stale_after
    jobs = queries.with_alert_state(
        queries.with_job_state(JobHeartbeat.objects.all(), now=T0, stale_after=stale_after),
        now=T0,
        thresholds=THRESHOLDS,
    ).annotate(
        deadline=queries.down_deadline(stale_after=stale_after),
        grace_in_force=queries.effective_grace(),
        stale=Case(
            When(queries.stale_q(now=T0, stale_after=stale_after), then=True),
            default=False,
            output_field=BooleanField(),
        ),
    )
    for job in jobs:
        facts = queries.job_facts(job)
        assert (
            job.deadline,
            job.stale,
            job.job_state,
            job.alert_state,
            job.grace_in_force,
        ) == (
            rules.down_deadline(facts, stale_after=stale_after),
            rules.is_stale(facts, now=T0, stale_after=stale_after),
            rules.job_state(facts, now=T0, stale_after=stale_after),
            rules.alert_state(facts, now=T0, thresholds=THRESHOLDS),
            policy.grace_of(job.grace),
        ), job.job_name
