"""What one checker pass did: each job with a problem and what became of it, the line the
command prints and the object `--json` prints, so both say the same."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from heartbeats.domain import durations, rules


@dataclass(frozen=True)
class JobOutcome:
    job_name: str | None  # None: an alert's job deleted since it was decided
    # sent, suppressed, failed, pending, would_send, no_channel, deferred, silenced,
    # maintenance
    action: str
    detail: str = ""


# How the summary line names each outcome, in its order.
OUTCOME_WORDS = {
    "sent": "alerted",
    "would_send": "would be alerted",
    "suppressed": "suppressed",
    "deferred": "deferred by outage grace",
    "silenced": "silenced",
    "maintenance": "in maintenance",
    "pending": "pending",
    "failed": "not delivered",
    "no_channel": "not alerted (no channel)",
}


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


@dataclass
class CheckResult:
    trigger: str
    dry_run: bool = False
    total_jobs: int = 0
    stale_jobs: int = 0
    alerts_sent: int = 0
    suppressed_alerts: int = 0
    failed_alerts: int = 0
    recoveries: int = 0
    recoveries_sent: int = 0
    outage: str = ""
    retries_waiting: int = 0
    next_retry_at: datetime | None = None
    left_for_next_pass: int = 0  # deliveries not tried before the deadline
    problems: dict[str, int] = field(default_factory=dict)
    channels: list[str] = field(default_factory=list)
    jobs: list[JobOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def count_problem(self, problem: rules.Problem, *, stale: bool) -> None:
        """`stale_jobs` counts the pass's problems that are stale: paused jobs are never a
        problem, so it is not the summary's stale count (`summary_figures.JobCounts.stale`)."""
        self.problems[problem.value] = self.problems.get(problem.value, 0) + 1
        self.stale_jobs += stale

    def outcomes(self) -> dict[str, int]:
        """Each job with a problem counted once, by what finally happened to it this pass."""
        final = {outcome.job_name: outcome.action for outcome in self.jobs}
        counts: dict[str, int] = {}
        for action in final.values():
            counts[action] = counts.get(action, 0) + 1
        return counts

    def as_dict(self) -> dict:
        data = asdict(self)
        data["jobs"] = [asdict(j) for j in self.jobs]
        data["outcomes"] = self.outcomes()
        data["next_retry_at"] = self.next_retry_at.isoformat() if self.next_retry_at else None
        return data

    def summary_line(self) -> str:
        head = f"Checked {_count(self.total_jobs, 'job')} ({self.trigger}"
        head += f"{', dry run' if self.dry_run else ''}): "
        n_problems = sum(self.problems.values())
        if n_problems:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.problems.items()))
            head += f"{n_problems} with a problem ({kinds}), {self.stale_jobs} of them stale: "
            outcomes = self.outcomes()
            head += ", ".join(
                f"{outcomes[action]} {words}"
                for action, words in OUTCOME_WORDS.items()
                if outcomes.get(action)
            )
        else:
            head += "no job has a problem"
        parts = [head]
        if self.recoveries_sent or self.recoveries:
            verb = "would be sent" if self.dry_run else "sent"
            count = self.recoveries if self.dry_run else self.recoveries_sent
            parts.append(f"{_count(count, 'recovery notice')} {verb}")
        if self.failed_alerts:
            parts.append(f"{_count(self.failed_alerts, 'alert')} with a failed delivery")
        if self.retries_waiting and self.next_retry_at:
            what = _count(self.retries_waiting, "delivery", "deliveries")
            parts.append(f"{what} waiting to retry, next at {durations.moment(self.next_retry_at)}")
        if self.outage:
            parts.append(f"suspected monitoring outage: {self.outage}")
        return "; ".join(parts)
