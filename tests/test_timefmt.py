"""One way to write durations, ages and moments, for the admin, the summary page and schedules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from heartbeats.domain import durations
from tests.conftest import T0


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (None, "\u2013"),
        (timedelta(0), "0 s"),
        (timedelta(microseconds=13104), "13 ms"),
        (timedelta(seconds=2.5), "2.5 s"),
        (timedelta(seconds=59), "59 s"),
        (timedelta(seconds=90), "1 min 30 s"),
        (timedelta(seconds=125), "2 min 5 s"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=3, minutes=10, seconds=5), "3 h 10 min"),
        (timedelta(days=1, seconds=5), "1 d"),
        (timedelta(days=2, hours=3, minutes=4), "2 d 3 h"),
    ],
)
def test_duration_in_words(delta, text):
    assert durations.duration(delta) == text


@pytest.mark.parametrize(
    ("before", "text"),
    [
        (timedelta(seconds=40), "40 s ago"),
        (timedelta(minutes=5, seconds=59), "5 min ago"),
        (timedelta(hours=3, minutes=59), "3 h ago"),
        (timedelta(hours=47), "47 h ago"),
        (timedelta(days=3, hours=5), "3 d ago"),
        (-timedelta(minutes=5), "in 5 min"),
    ],
)
def test_ago_in_one_rounded_unit(before, text):
    assert durations.ago(T0 - before, now=T0) == text


def test_moments_are_written_in_the_operators_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    assert durations.moment(T0) == "2026-03-02 13:00 CET"
    assert durations.moment_and_age(T0, now=T0 + timedelta(minutes=3)) == (
        "2026-03-02 13:00 CET, 3 min ago"
    )
