"""The read-only configuration page: the runbook's troubleshooting checks on one screen.

Channels are shown by name only; no secret value (webhook URL, API key) is ever rendered.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from heartbeats.domain import check_runs, policy, queries
from heartbeats.models import ENV_EMAIL, ENV_SLACK, Channel
from heartbeats.redaction import redact
from heartbeats.reporting import database_stats

CRONTAB_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class CrontabStatus:
    installed: bool
    detail: str


def crontab_status() -> CrontabStatus:
    """Whether `crontab -l` holds the checker's line, found by its CRONTAB_COMMENT marker."""
    executable = getattr(settings, "CRONTAB_EXECUTABLE", "/usr/bin/crontab")
    try:
        listing = subprocess.run(
            [executable, "-l"],
            capture_output=True,
            text=True,
            timeout=CRONTAB_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        return CrontabStatus(False, f"the crontab binary ({executable}) is missing")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return CrontabStatus(False, f"'crontab -l' could not run: {exc}")
    lines = [line for line in listing.stdout.splitlines() if settings.CRONTAB_COMMENT in line]
    if lines:
        return CrontabStatus(True, lines[0])
    return CrontabStatus(
        False, "no line with this deployment's marker; run 'python manage.py crontab add'"
    )


ENV_LABELS = {ENV_SLACK: "Slack", ENV_EMAIL: "Email"}


def _channels() -> list[dict]:
    """The environment's two channels (set or not), then those kept in the database."""
    configured = set(policy.configured_channels())
    env = [
        {"name": f"{label} (from environment)", "configured": key in configured}
        for key, label in ENV_LABELS.items()
    ]
    return env + [
        {"name": f"{c.name} ({c.get_kind_display()})", "configured": True}
        for c in Channel.objects.order_by("name")
    ]


def _broken_channels() -> list[dict]:
    broken = list(queries.broken_channels())
    names = {**queries.channel_names([s.channel for s in broken]), **ENV_LABELS}
    return [
        {"name": names[s.channel], "since": s.broken_since, "error": redact(s.last_error)}
        for s in broken
    ]


def _statements() -> tuple[list[dict], str]:
    try:
        return database_stats.slow_statements(), ""
    except database_stats.StatementsUnavailable as exc:
        return [], str(exc)


def configuration_view(request: HttpRequest, *, modeladmin) -> HttpResponse:
    if not modeladmin.has_view_permission(request):
        raise PermissionDenied
    thresholds = policy.thresholds()
    statements, statements_unavailable = _statements()
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": "Cron monitor configuration",
        "channels": _channels(),
        "stale_after_hours": f"{thresholds.stale_after.total_seconds() / 3600:g}",
        "suppression_hours": f"{thresholds.suppression.total_seconds() / 3600:g}",
        "default_grace_minutes": f"{policy.default_grace().total_seconds() / 60:g}",
        "schedule": settings.HEALTHCHECK_SCHEDULE,
        "crontab": crontab_status(),
        "last_run": check_runs.last_run(),
        "broken_channels": _broken_channels(),
        "is_postgres": connection.vendor == "postgresql",
        "indexes": database_stats.index_usage(),
        "statements": statements,
        "statements_unavailable": statements_unavailable,
    }
    return TemplateResponse(request, "admin/heartbeats/configuration.html", context)
