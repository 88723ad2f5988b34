"""System checks (`manage.py check`): problems an operator should hear about before 3 a.m."""

from __future__ import annotations

import shutil

from django.conf import settings
from django.core.checks import Warning, register

from heartbeats.domain import policy, schedules


@register()
def alert_channels_configured(app_configs, **kwargs) -> list[Warning]:
    if policy.configured_channels() or _database_channels():
        return []
    return [
        Warning(
            policy.NO_CHANNEL,
            hint=policy.NO_CHANNEL_FIX,
            id="heartbeats.W001",
        )
    ]


def _database_channels() -> bool:
    from django.db import DatabaseError

    from heartbeats.models import Channel

    try:
        return Channel.objects.exists()
    except DatabaseError:  # not migrated yet: the environment's channels are all there are
        return False


@register()
def crontab_binary_present(app_configs, **kwargs) -> list[Warning]:
    executable = getattr(settings, "CRONTAB_EXECUTABLE", "/usr/bin/crontab")
    if shutil.which(executable):
        return []
    return [
        Warning(
            f"The crontab binary ({executable}) is missing: 'manage.py crontab add' would "
            "report success and install nothing.",
            hint="Install Debian's cron package (apt-get install cron) and start the daemon.",
            id="heartbeats.W002",
        )
    ]


@register()
def alert_channels_not_broken(app_configs, **kwargs) -> list[Warning]:
    """A permanent delivery error (revoked key, deleted webhook) needs a human."""
    from django.db import DatabaseError

    from heartbeats.domain import queries

    try:
        broken = list(queries.broken_channels())
        names = queries.channel_names([status.channel for status in broken])
    except DatabaseError:  # not migrated yet, or no database: other checks say so
        return []
    return [
        Warning(
            f"Alert channel {names[status.channel]} is broken since "
            f"{status.broken_since:%Y-%m-%d %H:%M} UTC: {status.last_error}",
            hint="Fix its configuration, then run 'manage.py send_test_alert'.",
            id="heartbeats.W003",
        )
        for status in broken
    ]


@register()
def delivery_lease_covers_a_send(app_configs, **kwargs) -> list[Warning]:
    """A checker renews its lease between sends, once half is used: a send with its retries
    must fit in that half, or a second checker may take the delivery over and send it again."""
    from heartbeats.alerts.retry_policy import longest_attempt_seconds

    longest = longest_attempt_seconds()
    if 2 * longest <= settings.ALERT_DELIVERY_LEASE_SECONDS:
        return []
    return [
        Warning(
            f"ALERT_DELIVERY_LEASE_SECONDS ({settings.ALERT_DELIVERY_LEASE_SECONDS}) is shorter "
            f"than twice the longest send with its retries ({longest:.0f} s): another checker "
            "could take a delivery over mid-send and send it again.",
            hint="Raise ALERT_DELIVERY_LEASE_SECONDS, or lower ALERT_RETRIES_PER_RUN, "
            "ALERT_RETRY_BASE_SECONDS, ALERT_RETRY_AFTER_MAX_SECONDS or the alert timeouts.",
            id="heartbeats.W004",
        )
    ]


@register()
def jobs_outpace_the_checker(app_configs, **kwargs) -> list[Warning]:
    """A job whose period plus grace is shorter than the wait between two checker passes can
    miss its schedule and be alerted late (or run again, unnoticed, before any pass sees it)."""
    from django.db import DatabaseError

    from heartbeats.domain.queries import jobs_shorter_than

    interval = policy.checker_interval()
    if interval <= schedules.MIN_PERIOD:
        return []  # every job's period is at least a minute: the every-minute default fits all
    try:
        names, total = jobs_shorter_than(interval)
    except DatabaseError:  # not migrated yet, or no database: other checks say so
        return []
    if not total:
        return []
    more = f" and {total - len(names)} more" if total > len(names) else ""
    return [
        Warning(
            f"{total} job{'s' if total != 1 else ''} ({', '.join(names)}{more}) expect a run "
            f"sooner than the checker passes: period plus grace is under {interval} "
            f"(the longest wait of HEALTHCHECK_SCHEDULE {settings.HEALTHCHECK_SCHEDULE!r}).",
            hint="Run the checker more often (the default is every minute, '* * * * *'), or "
            "give those jobs more grace.",
            id="heartbeats.W005",
        )
    ]
