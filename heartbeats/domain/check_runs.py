"""The checker's own history, one meaning for each of its words.

- A *counted* run is any recorded pass but a dry run (older versions recorded those): only
  counted runs sum suppressed alerts or show that the checker ran.
- *The previous check run* is the latest counted run, of any trigger, before the pass that
  asks: what that pass measures "since" from (event pruning, jobs that went down since).
- *The last cron run* is the latest counted run the crontab started: what the checker's
  schedule is measured from (the outage guard's crontab gap, the summary's banner, /metrics,
  /healthz), as a manual run must not hide a broken crontab.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from heartbeats.models import CheckRun

COUNTED = Q(dry_run=False)
CRON = Q(trigger="cron")


def earlier_q(*, now: datetime, current: CheckRun | None) -> Q:
    """The counted runs before a pass, the latest being its previous check run: every one but
    `current` when the pass is recorded, else (a dry run) those started before `now`."""
    if current is not None:
        return COUNTED & ~Q(pk=current.pk)
    return COUNTED & Q(started_at__lt=now)


def last_run(*, cron_only: bool = False) -> CheckRun | None:
    """The latest counted run, finished or not; with `cron_only`, the last cron run."""
    runs = CheckRun.objects.filter(COUNTED & CRON if cron_only else COUNTED)
    return runs.order_by("-started_at").first()
