"""App settings, read when used so that tests (and a changed `.env`) take effect at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from heartbeats.domain import schedules
from heartbeats.domain.rules import Thresholds
from heartbeats.models import ENV_EMAIL, ENV_SLACK


def thresholds() -> Thresholds:
    return Thresholds.from_hours(settings.STALE_AFTER_HOURS, settings.ALERT_SUPPRESSION_HOURS)


def default_grace() -> timedelta:
    return timedelta(minutes=settings.DEFAULT_GRACE_MINUTES)


def grace_of(grace: timedelta | None) -> timedelta:
    """A job's effective grace: its own, or DEFAULT_GRACE_MINUTES when it has none."""
    return grace if grace is not None else default_grace()


def recovery_window() -> timedelta:
    """How soon after an alert a successful beat makes that alert a false positive."""
    return timedelta(minutes=settings.RECOVERY_WINDOW_MINUTES)


# The one "no channel" text: commands, the admin, the check run's error and the system check
# (which shows the fix as its hint).
NO_CHANNEL = "No alert channel is configured: stale jobs cannot be alerted."
NO_CHANNEL_FIX = "Set SLACK_WEBHOOK_URL, or RESEND_API_KEY, RESEND_FROM and ALERT_EMAIL_TO."
NO_CHANNEL_MESSAGE = f"{NO_CHANNEL} {NO_CHANNEL_FIX}"


def configured_channels() -> list[str]:
    """The channels alerts go to: Slack when its webhook is set, email when all three are."""
    channels = []
    if settings.SLACK_WEBHOOK_URL:
        channels.append(ENV_SLACK)
    if settings.RESEND_API_KEY and settings.RESEND_FROM and settings.ALERT_EMAIL_TO:
        channels.append(ENV_EMAIL)
    return channels


CHECKER_SLACK = timedelta(minutes=5)
# At an every-minute schedule two missed runs are a slow pass or a reboot, not an outage.
CHECKER_FLOOR = timedelta(minutes=15)


def checker_deadline(last_started: datetime) -> datetime:
    """When the checker counts as away unless another cron run starts: two missed runs of
    HEALTHCHECK_SCHEDULE plus slack, and never sooner than CHECKER_FLOOR after `last_started`.

    The one threshold behind the outage guard, the summary's banner, /metrics and /healthz.
    """
    missed_two = schedules.checker_deadline(
        last_started=last_started,
        cron=settings.HEALTHCHECK_SCHEDULE,
        tz=settings.TIME_ZONE,
        slack=CHECKER_SLACK,
    )
    return max(missed_two, last_started + CHECKER_FLOOR)


def checker_interval() -> timedelta:
    """The longest wait between two runs of HEALTHCHECK_SCHEDULE: how late a pass can come."""
    return max(schedules.run_gaps(settings.HEALTHCHECK_SCHEDULE, settings.TIME_ZONE))


def ping_keys() -> list[str]:
    return settings.PING_KEYS


def ping_body_limit() -> int:
    return settings.PING_BODY_LIMIT


def events_kept() -> int:
    return settings.PING_EVENTS_KEPT


def behind_proxy() -> bool:
    """Only then is X-Forwarded-For the proxy's word rather than anything a client sends."""
    return settings.BEHIND_HTTPS_PROXY
