"""Pure decisions about a job: is it stale, is its alert suppressed, what state is it in.

Plain functions over plain values with `now` passed in; no ORM and no settings, so the same
rule is tested without a database. `domain/queries.py` builds the SQL twin of each rule from the
same thresholds, and a test checks that both agree on the boundaries.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from heartbeats.domain import durations


@dataclass(frozen=True)
class Thresholds:
    """The two numbers the runbook's checker runs on."""

    stale_after: timedelta
    suppression: timedelta

    @classmethod
    def from_hours(cls, stale_after_hours: float, suppression_hours: float) -> Thresholds:
        return cls(timedelta(hours=stale_after_hours), timedelta(hours=suppression_hours))


class AlertState(enum.StrEnum):
    """Why a job was or was not alerted: the runbook's "Alerts Being Suppressed" column."""

    HEALTHY = "healthy"
    NEVER_ALERTED = "never_alerted"
    SUPPRESSED = "suppressed"
    SHOULD_ALERT = "should_alert"

    def describe(self, suppression: timedelta) -> str:
        """The state as the alert-state filter offers it; a job's own badge says why
        (`AntiSpam.describe`)."""
        hours = durations.duration(suppression)
        return {
            AlertState.HEALTHY: "Healthy",
            AlertState.NEVER_ALERTED: "Never alerted (should alert)",
            AlertState.SUPPRESSED: f"Suppressed (same incident, < {hours} since last alert)",
            AlertState.SHOULD_ALERT: f"Should alert (>= {hours} since last alert, or new incident)",
        }[self]


class AntiSpam(enum.StrEnum):
    """The anti-spam rule's answer for a job with a problem, with its reason."""

    FIRST = "first"  # never alerted
    WINDOW_PASSED = "window_passed"  # the last alert is `suppression` or more ago
    NEW_INCIDENT = "new_incident"  # recovered since the last alert
    SAME_INCIDENT = "same_incident"  # held back: a repeat within the window
    FLAPPING = "flapping"  # held back: flapping, whatever it did since

    @property
    def holds(self) -> bool:
        return self in (AntiSpam.SAME_INCIDENT, AntiSpam.FLAPPING)

    def describe(self, suppression: timedelta) -> str:
        hours = durations.duration(suppression)
        return {
            AntiSpam.FIRST: "Never alerted (should alert)",
            AntiSpam.WINDOW_PASSED: f"Should alert (>= {hours} since last alert)",
            AntiSpam.NEW_INCIDENT: "Should alert (new incident since last alert)",
            AntiSpam.SAME_INCIDENT: f"Suppressed (same incident, < {hours} since last alert)",
            AntiSpam.FLAPPING: f"Suppressed (flapping, < {hours} since last alert)",
        }[self]


class JobState(enum.StrEnum):
    """What the job list, filters, summary, /metrics and the checker call a job's state."""

    NEW = "new"
    UP = "up"
    LATE = "late"
    DOWN = "down"
    FAILED = "failed"
    RUNNING = "running"
    PAUSED = "paused"


class Problem(enum.StrEnum):
    """What the checker alerts about; values match `AlertKind`."""

    DOWN = "down"
    FAILED = "failed"
    HUNG = "hung"


@dataclass(frozen=True)
class JobFacts:
    """The columns the rules read, detached from the model."""

    last_run_at: datetime
    last_alert_at: datetime | None = None
    due_at: datetime | None = None
    grace: timedelta | None = None
    last_outcome: str = "success"
    last_start_at: datetime | None = None
    run_deadline: datetime | None = None
    paused: bool = False
    n_runs: int = 1
    last_success_at: datetime | None = None
    watched_since: datetime | None = None
    incident_opened_at: datetime | None = None
    flapping: bool = False


def watch_start(facts: JobFacts) -> datetime:
    """Where an unscheduled job's silence is counted from: its last run, or a later fresh
    window (resume, bulk recover), so a job paused for days is not stale the moment it resumes."""
    if facts.watched_since is not None and facts.watched_since > facts.last_run_at:
        return facts.watched_since
    return facts.last_run_at


def down_deadline(facts: JobFacts, *, stale_after: timedelta) -> datetime:
    """When the job counts as down: its due time, or `stale_after` after its watch start."""
    if facts.due_at is not None:
        return facts.due_at
    return watch_start(facts) + stale_after


def is_stale(facts: JobFacts, *, now: datetime, stale_after: timedelta) -> bool:
    """Down: past its own due time, or (no schedule) last beat older than `stale_after`."""
    return now > down_deadline(facts, stale_after=stale_after)


def is_recent_alert(
    last_alert_at: datetime | None, *, now: datetime, suppression: timedelta
) -> bool:
    """Anti-spam window: alerted less than `suppression` ago (exactly that long ago is not)."""
    return last_alert_at is not None and now - last_alert_at < suppression


def _closed_after(facts: JobFacts, moment: datetime) -> bool:
    """A successful run or a fresh window after `moment`: what ends an incident."""
    return any(m is not None and m > moment for m in (facts.last_success_at, facts.watched_since))


def anti_spam(facts: JobFacts, *, now: datetime, suppression: timedelta) -> AntiSpam:
    """Anti-spam applies to repeats within one incident: alerted recently, and the job has not
    recovered since that alert; a flapping job is held to the anti-spam window whatever it did."""
    last = facts.last_alert_at
    if last is None:
        return AntiSpam.FIRST
    if not is_recent_alert(last, now=now, suppression=suppression):
        return AntiSpam.WINDOW_PASSED
    if facts.flapping:
        return AntiSpam.FLAPPING
    return AntiSpam.NEW_INCIDENT if _closed_after(facts, last) else AntiSpam.SAME_INCIDENT


def is_suppressed(facts: JobFacts, *, now: datetime, suppression: timedelta) -> bool:
    """Whether `anti_spam` holds the alert back."""
    return anti_spam(facts, now=now, suppression=suppression).holds


def opens_incident(facts: JobFacts) -> bool:
    """Whether a job with a problem now starts a new incident: none recorded yet, or the last
    one ended (a successful run or a fresh window since it opened)."""
    opened = facts.incident_opened_at
    return opened is None or _closed_after(facts, opened)


def incidents_within(
    openings: Sequence[datetime], *, now: datetime, window: timedelta
) -> list[datetime]:
    """The incident openings inside the flapping window ending at `now` (older ones drop)."""
    return [moment for moment in openings if now - moment < window]


def is_flapping(openings: int, *, threshold: int) -> bool:
    """More than `threshold` incidents within the window."""
    return openings > threshold


def ping_key_matches(given: str, keys: Sequence[str]) -> bool:
    """Whether `given` is one of the ping keys; every key is compared, each in constant time,
    so the response time tells nothing about which key nearly matched."""
    given_bytes = given.encode()
    matches = [hmac.compare_digest(given_bytes, key.encode()) for key in keys]
    return any(matches)


def overdue(facts: JobFacts, *, now: datetime, stale_after: timedelta) -> timedelta | None:
    """How long past its deadline a stale job is; None when it is not stale."""
    if not is_stale(facts, now=now, stale_after=stale_after):
        return None
    return now - down_deadline(facts, stale_after=stale_after)


def went_down_since(facts: JobFacts, since: datetime | None, *, stale_after: timedelta) -> bool:
    """Whether a job's down deadline passed after `since` (the previous check): only those
    count as "went silent at the same time", so jobs held back by an outage grace are not
    counted again, and alerted, once it ends."""
    return since is None or down_deadline(facts, stale_after=stale_after) > since


def is_hung(facts: JobFacts, *, now: datetime) -> bool:
    """A run started and did not finish by its deadline (start plus grace)."""
    return facts.run_deadline is not None and now > facts.run_deadline


def problem(facts: JobFacts, *, now: datetime, stale_after: timedelta) -> Problem | None:
    """The reason to alert about a job now, if any: its state is failed or down."""
    state = job_state(facts, now=now, stale_after=stale_after)
    if state == JobState.FAILED:
        return Problem.FAILED
    if state == JobState.DOWN:
        return Problem.HUNG if is_hung(facts, now=now) else Problem.DOWN
    return None


def alert_state(facts: JobFacts, *, now: datetime, thresholds: Thresholds) -> AlertState:
    """The runbook's alert_status: healthy, or why a job with a problem is (not) alerted."""
    if problem(facts, now=now, stale_after=thresholds.stale_after) is None:
        return AlertState.HEALTHY
    if facts.last_alert_at is None:
        return AlertState.NEVER_ALERTED
    if is_suppressed(facts, now=now, suppression=thresholds.suppression):
        return AlertState.SUPPRESSED
    return AlertState.SHOULD_ALERT


def job_state(facts: JobFacts, *, now: datetime, stale_after: timedelta) -> JobState:
    """The one state of a job, first match wins: paused, failed (last run failed), down (no
    run in time, or a run past its deadline), running, new (never ran), late (past its
    expected run, within grace; `facts.grace` is the effective grace) or up.

    `queries.job_state_whens` is its SQL twin; the checker alerts on failed and down only.
    """
    if facts.paused:
        return JobState.PAUSED
    if facts.last_outcome == "fail":
        return JobState.FAILED
    if is_hung(facts, now=now) or is_stale(facts, now=now, stale_after=stale_after):
        return JobState.DOWN
    if facts.last_start_at is not None and facts.run_deadline is not None:
        return JobState.RUNNING
    if facts.n_runs == 0:
        return JobState.NEW
    if facts.due_at is not None and now > facts.due_at - (facts.grace or timedelta(0)):
        return JobState.LATE
    return JobState.UP
