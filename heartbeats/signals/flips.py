"""Flips: each change of a job between up and down, written where it happens (the checker
deciding a job is down, a successful signal bringing it back up) and read by the API's
flips endpoint and the job page's uptime."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from heartbeats.models import Flip, FlipStatus, JobHeartbeat


def record_up(job: JobHeartbeat, *, now: datetime, reason: str) -> None:
    """The job was down and is up again: one flip and the job's flag cleared."""
    Flip.objects.create(
        job=job, created_at=now, old_status=FlipStatus.DOWN, new_status=FlipStatus.UP,
        reason=reason[:200],
    )  # fmt: skip
    JobHeartbeat.objects.filter(pk=job.pk).update(flipped_down=False)
    job.flipped_down = False


def record_down(jobs: Iterable[tuple[JobHeartbeat, str]], *, now: datetime) -> int:
    """Jobs the checker found down (with why) that were not flagged down yet: a flip each, in
    one insert and one update whatever their number. Returns how many flipped."""
    newly = [(job, why) for job, why in jobs if not job.flipped_down]
    if not newly:
        return 0
    Flip.objects.bulk_create(
        Flip(
            job=job, created_at=now, new_status=FlipStatus.DOWN, reason=why[:200],
            old_status=FlipStatus.UP if job.n_runs else FlipStatus.NEW,
        )
        for job, why in newly
    )  # fmt: skip
    JobHeartbeat.objects.filter(pk__in=[job.pk for job, _ in newly]).update(flipped_down=True)
    for job, _ in newly:
        job.flipped_down = True
    return len(newly)
