"""The pure rules case by case: job states and their words, problems, which jobs count as
newly down, units and ping keys."""

from __future__ import annotations

from datetime import timedelta

import pytest

from heartbeats.domain.checker_health import CheckerProblem
from heartbeats.domain.rules import (
    AlertState,
    AntiSpam,
    JobFacts,
    JobState,
    Problem,
    job_state,
    ping_key_matches,
    problem,
    went_down_since,
)
from tests.conftest import T0


def test_alert_states_are_described_with_the_suppression_window():
    assert [state.describe(timedelta(hours=6)) for state in AlertState] == [
        "Healthy",
        "Never alerted (should alert)",
        "Suppressed (same incident, < 6 h since last alert)",
        "Should alert (>= 6 h since last alert, or new incident)",
    ]
    window = timedelta(hours=1.5)  # in the one duration format, as everywhere else
    assert AntiSpam.SAME_INCIDENT.describe(window) == (
        "Suppressed (same incident, < 1 h 30 min since last alert)"
    )


def test_checker_problems_are_described_in_words():
    assert [problem.describe() for problem in CheckerProblem] == [
        "The checker has never run.",
        "The checker has missed two scheduled runs: is its cron entry installed?",
        "The checker's last run failed.",
    ]


M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"paused": True, "last_outcome": "fail"}, JobState.PAUSED),
        ({"last_outcome": "fail", "last_run_at": T0 - 25 * 60 * M}, JobState.FAILED),
        ({"last_run_at": T0 - 25 * 60 * M, "last_start_at": T0}, JobState.DOWN),
        ({"last_start_at": T0 - M, "run_deadline": T0 + M, "n_runs": 0}, JobState.RUNNING),
        ({"last_start_at": T0 - M, "n_runs": 0}, JobState.NEW),
        ({"due_at": T0 + 4 * M, "grace": 5 * M}, JobState.LATE),
        ({"due_at": T0 + 5 * M, "grace": 5 * M}, JobState.UP),
        ({"due_at": T0 + M}, JobState.UP),
    ],
)
def test_job_state_in_the_order_operators_need_it(facts, expected):
    facts = JobFacts(**{"last_run_at": T0 - M, **facts})
    assert job_state(facts, now=T0, stale_after=24 * 60 * M) == expected


def test_a_ping_key_matches_only_a_whole_configured_key():
    keys = ["first-key-0123456789", "second-key-0123456789"]
    assert ping_key_matches("first-key-0123456789", keys)
    assert ping_key_matches("second-key-0123456789", keys)
    assert not ping_key_matches("second-key-012345678", keys)
    assert not ping_key_matches("first-key-0123456789", [])


H = 60 * M


@pytest.mark.parametrize(
    ("facts", "since", "expected"),
    [
        ({}, None, True),
        ({}, T0 - 2 * H, True),
        ({}, T0 - H, False),  # its deadline is the previous check itself: already counted
        ({"due_at": T0 - 3 * H}, T0 - 2 * H, False),
    ],
)
def test_went_down_since_the_previous_check(facts, since, expected):
    facts = JobFacts(**{"last_run_at": T0 - 25 * H, **facts})
    assert went_down_since(facts, since, stale_after=24 * H) is expected


def test_a_run_is_hung_only_after_its_deadline():
    facts = JobFacts(last_run_at=T0 - H, last_start_at=T0 - 10 * M, run_deadline=T0)
    assert problem(facts, now=T0, stale_after=24 * H) is None
    assert problem(facts, now=T0 + timedelta(microseconds=1), stale_after=24 * H) == Problem.HUNG
