"""The monitor's own health: when a pass looks like an outage of monitoring rather than real
failures, and what the summary's red banner says about the checker."""

from __future__ import annotations

import enum
from datetime import datetime

from heartbeats.domain import durations


def outage_reason(
    *,
    now: datetime,
    previous_check_at: datetime | None,
    checker_deadline: datetime | None,
    newly_down: int,
    total_jobs: int,
    min_jobs: int,
    share: float,
) -> str | None:
    """Why this run looks like the monitor's own outage rather than real failures, if it does.

    Either the checker itself was away (no cron run by `checker_deadline`, from
    `policy.checker_deadline`: two missed runs, at least 15 minutes), or most jobs (more than
    `share` of them, and at least `min_jobs`) went silent at once.
    """
    if previous_check_at is not None and checker_deadline is not None and now > checker_deadline:
        return f"the checker did not run for {durations.duration(now - previous_check_at)}"
    if newly_down >= min_jobs and newly_down > share * total_jobs:
        return f"{newly_down} of {total_jobs} jobs went silent at the same time"
    return None


class CheckerProblem(enum.StrEnum):
    """Why the monitor itself needs attention: the summary page's red banner."""

    NEVER_RAN = "never_ran"
    OVERDUE = "overdue"
    LAST_RUN_FAILED = "last_run_failed"

    def describe(self) -> str:
        return {
            CheckerProblem.NEVER_RAN: "The checker has never run.",
            CheckerProblem.OVERDUE: (
                "The checker has missed two scheduled runs: is its cron entry installed?"
            ),
            CheckerProblem.LAST_RUN_FAILED: "The checker's last run failed.",
        }[self]


def checker_problem(
    *, now: datetime, deadline: datetime | None, last_failed: bool
) -> CheckerProblem | None:
    """What is wrong with the checker at `now`, if anything; a missed schedule comes first.

    `deadline` is when the checker counts as broken unless another run starts
    (`policy.checker_deadline`); None when it has never run.
    """
    if deadline is None:
        return CheckerProblem.NEVER_RAN
    if now > deadline:
        return CheckerProblem.OVERDUE
    if last_failed:
        return CheckerProblem.LAST_RUN_FAILED
    return None
