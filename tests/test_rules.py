"""The rules' own words and units, as the admin, the summary page and /healthz show them."""

from __future__ import annotations

from datetime import timedelta

from heartbeats.rules import AlertState, CheckerProblem, hours_since
from tests.conftest import T0


def test_alert_states_are_described_with_the_suppression_window():
    assert [state.describe(timedelta(hours=6)) for state in AlertState] == [
        "Healthy",
        "Never alerted (should alert)",
        "Suppressed (< 6 h since last alert)",
        "Should alert (>= 6 h since last alert)",
    ]


def test_checker_problems_are_described_in_words():
    assert [problem.describe() for problem in CheckerProblem] == [
        "The checker has never run.",
        "The checker has missed two scheduled runs: is its cron entry installed?",
        "The checker's last run failed.",
    ]


def test_hours_since_counts_hours_and_knows_never():
    assert hours_since(T0 - timedelta(minutes=90), now=T0) == 1.5
    assert hours_since(None, now=T0) is None
