"""Incidents: whether a job's problem is new or a repeat, whether the job flaps, and the
"Silence all alerts" switch.

The checker calls `assess` for each job with a problem while it decides (under its lock), and
`record` with what it decided, so a dry run writes nothing. The decisions themselves are the
pure rules in `domain/rules.py`; this module only reads the settings and the job's stored record.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings

from heartbeats.domain import policy, rules
from heartbeats.models import JobHeartbeat


@dataclass(frozen=True)
class Assessment:
    """One job with a problem, as the incident rules see it at `now`."""

    new_incident: bool
    anti_spam: rules.AntiSpam
    openings: list[datetime]  # incidents opened within the flapping window, this one included
    flapping: bool

    @property
    def suppressed(self) -> bool:
        return self.anti_spam.holds

    @property
    def flapping_incidents(self) -> int | None:
        """What a flapping alert says: the incidents within the window; None when stable."""
        return len(self.openings) if self.flapping else None


def flap_window() -> timedelta:
    return timedelta(hours=settings.FLAP_WINDOW_HOURS)


def _prior_openings(job: JobHeartbeat, *, now: datetime) -> list[datetime]:
    stored = [datetime.fromisoformat(moment) for moment in job.recent_incidents or []]
    return rules.incidents_within(stored, now=now, window=flap_window())


def anti_spam(job: JobHeartbeat, facts: rules.JobFacts, *, now: datetime) -> rules.AntiSpam:
    """What the anti-spam rule says of this job's alert at `now`, and why: the checker's
    decision, and the job list's alert-state badge.

    A job was flapping before this pass if the window already held more than the threshold;
    only then does the anti-spam rule hold back a new incident, so the incident that tips a
    job into flapping is alerted (the one "flapping" alert) and later ones wait for the window.
    """
    prior = _prior_openings(job, now=now)
    was_flapping = rules.is_flapping(len(prior), threshold=settings.FLAP_THRESHOLD)
    return rules.anti_spam(
        replace(facts, flapping=was_flapping), now=now, suppression=policy.thresholds().suppression
    )


def assess(job: JobHeartbeat, facts: rules.JobFacts, *, now: datetime) -> Assessment:
    """New incident or repeat, and whether anti-spam holds this alert back."""
    prior = _prior_openings(job, now=now)
    new_incident = rules.opens_incident(facts)
    openings = [*prior, now] if new_incident else prior
    return Assessment(
        new_incident=new_incident,
        anti_spam=anti_spam(job, facts, now=now),
        openings=openings,
        flapping=rules.is_flapping(len(openings), threshold=settings.FLAP_THRESHOLD),
    )


def record(assessed: list[tuple[JobHeartbeat, Assessment]], *, now: datetime) -> None:
    """Store each job's incident record where it changed, one statement per distinct record
    (usually one: every incident opened by this pass is [now]).

    Only these three columns are written, so a ping landing meanwhile is not overwritten.
    """
    groups: dict[tuple[bool, tuple[str, ...], bool], list[str]] = defaultdict(list)
    for job, assessment in assessed:
        openings = tuple(moment.isoformat() for moment in assessment.openings)
        unchanged = (
            openings == tuple(job.recent_incidents or ()) and assessment.flapping == job.flapping
        )
        if assessment.new_incident or not unchanged:
            groups[(assessment.new_incident, openings, assessment.flapping)].append(job.job_name)
    for (new_incident, openings, flapping), names in groups.items():
        changes: dict = {"recent_incidents": list(openings), "flapping": flapping}
        if new_incident:
            changes["incident_opened_at"] = now
        JobHeartbeat.objects.filter(job_name__in=names).update(**changes)
