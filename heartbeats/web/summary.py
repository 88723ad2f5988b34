"""The summary page, /summary.json, /metrics and /healthz: parse, call `summary_figures`,
present."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from heartbeats.domain import links, policy, silence
from heartbeats.domain.checker_health import CheckerProblem
from heartbeats.models import CheckRun, JobHeartbeat
from heartbeats.reporting import prometheus, summary_figures
from heartbeats.reporting.summary_chart import day_chart
from heartbeats.web.unavailable import database_unavailable

DEFAULT_WINDOW = "24h"
PLAIN_TEXT = "text/plain; charset=utf-8"
# A failed last run shows on the page and in /metrics; /healthz is about the schedule.
HEALTHZ_FAILURES = (CheckerProblem.NEVER_RAN, CheckerProblem.OVERDUE)


def may_view_jobs(request: HttpRequest) -> bool:
    """The job list's own rule, asked of the admin: active staff allowed to view jobs."""
    job_admin = admin.site.get_model_admin(JobHeartbeat)
    return admin.site.has_permission(request) and job_admin.has_view_permission(request)


def job_viewers_only(view: Callable) -> Callable:
    """Anonymous users go to the admin login; signed-in users who may not view the job list
    get 403, as the admin's job list answers them (and no login loop)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not may_view_jobs(request):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def token_refusal(request: HttpRequest, expected: str) -> JsonResponse | None:
    """None when the request's bearer token equals `expected` (compared in constant time)."""
    given = bearer_token(request)
    if given is None:
        response = JsonResponse({"error": "authentication required"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="cronmonitor"'
        return response
    if expected and hmac.compare_digest(given.encode(), expected.encode()):
        return None
    return JsonResponse({"error": "invalid token"}, status=403)


@never_cache
@require_safe
@job_viewers_only
def summary_page(request: HttpRequest) -> HttpResponse:
    window = request.GET.get("window", DEFAULT_WINDOW)
    if window not in summary_figures.WINDOWS:
        window = DEFAULT_WINDOW
    figures = summary_figures.summary(now=timezone.now(), windows=[window])
    context = {
        **admin.site.each_context(request),
        "title": "Summary",
        "summary": figures,
        "window": figures.windows[window],
        "window_names": list(summary_figures.WINDOWS),
        "chart": day_chart(figures.daily),
        "stale_rows": [(job, links.job_admin_path(job.job_name)) for job in figures.stale_jobs],
        "thresholds": policy.thresholds(),
        "recovery_minutes": settings.RECOVERY_WINDOW_MINUTES,
        "time_zone": settings.TIME_ZONE,
        "schedule": settings.HEALTHCHECK_SCHEDULE,
        "checker_slack": policy.CHECKER_SLACK,
        "checker_floor": policy.CHECKER_FLOOR,
        "silence_notice": silence.silence_notice(figures.silenced_until, now=figures.now),
    }
    return render(request, "heartbeats/summary.html", context)


@never_cache
@require_safe
def summary_json(request: HttpRequest) -> JsonResponse:
    """The same figures for scripts: a session that may view the job list, or
    `Authorization: Bearer <token>`."""
    try:
        # Reading the session's user is a query too.
        if bearer_token(request) is not None or not request.user.is_authenticated:
            refusal = token_refusal(request, settings.SUMMARY_API_TOKEN)
            if refusal is not None:
                return refusal
        elif not may_view_jobs(request):
            return JsonResponse({"error": "permission to view jobs required"}, status=403)
        figures = summary_figures.summary(now=timezone.now(), windows=list(summary_figures.WINDOWS))
    except DatabaseError as exc:
        return database_unavailable(request, exc, JsonResponse({"error": "database unavailable"}))
    return JsonResponse(summary_document(figures))


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponseBase:
    if settings.METRICS_TOKEN:
        refusal = token_refusal(request, settings.METRICS_TOKEN)
        if refusal is not None:
            return refusal
    try:
        exposition = prometheus.exposition(now=timezone.now())
    except DatabaseError as exc:
        text = HttpResponse("database unavailable, try again later", content_type=PLAIN_TEXT)
        return database_unavailable(request, exc, text)
    return StreamingHttpResponse(exposition, content_type=CONTENT_TYPE_LATEST)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """For an uptime monitor: 503 when the database or the checker's schedule is broken."""
    now = timezone.now()
    try:
        status = summary_figures.checker_status(now=now)
        silenced_until = silence.silenced_until(now=now)
    except DatabaseError as exc:
        error = {"status": "error", "reason": "database unavailable"}
        return database_unavailable(request, exc, JsonResponse(error))
    last_run = status.last_run
    body: dict[str, str | None] = {
        "status": "ok",
        "checker_last_started_at": iso(last_run.started_at) if last_run else None,
        "checker_last_outcome": last_run.outcome if last_run else None,
        "checker_deadline": iso(status.deadline),
        # Information, not a failure: a silence keeps 200.
        "alerts_silenced_until": iso(silenced_until),
    }
    if status.problem in HEALTHZ_FAILURES:
        body.update(status="error", reason=status.problem.describe())
        return JsonResponse(body, status=503)
    return JsonResponse(body)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, the form /summary.json documents."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def summary_document(figures: summary_figures.Summary) -> dict:
    jobs = figures.jobs
    checker = figures.checker
    return {
        "generated_at": iso(figures.now),
        "jobs": {
            "total": jobs.total,
            "healthy": jobs.healthy,
            "stale": jobs.stale,
            "states": jobs.states,
            "alerted_24h": jobs.alerted_24h,
            "most_recent_heartbeat": iso(jobs.most_recent_heartbeat),
            "oldest_heartbeat": iso(jobs.oldest_heartbeat),
        },
        "checker": {
            "ok": checker.problem is None,
            "problem": checker.problem.value if checker.problem else None,
            "last_started_at": iso(checker.last_run.started_at) if checker.last_run else None,
            "deadline": iso(checker.deadline),
            "recent_runs": [run_document(run) for run in figures.recent_runs],
        },
        "broken_channels": [
            {
                "channel": c.channel,
                "name": getattr(c, "name", c.channel),
                "broken_since": iso(c.broken_since),
                "error": c.last_error,
            }
            for c in figures.broken_channels
        ],
        "alerts_silenced_until": iso(figures.silenced_until),
        "recovery_window_minutes": settings.RECOVERY_WINDOW_MINUTES,
        "windows": {name: window_document(window) for name, window in figures.windows.items()},
        "daily": {
            "time_zone": settings.TIME_ZONE,
            "days": [
                {
                    "date": day.day.isoformat(),
                    "alerts_sent": day.alerts_sent,
                    "unique_jobs": day.unique_jobs,
                }
                for day in figures.daily
            ],
        },
        "stale_jobs": [
            {
                "job_name": job.job_name,
                "last_run_at": iso(job.last_run_at),
                "due_at": iso(job.due_at),
                "overdue_seconds": job.overdue.total_seconds(),
                "last_alert_at": iso(job.last_alert_at),
                "status": job.status,
                "paused": job.paused,
                "admin_url": links.job_admin_path(job.job_name),
            }
            for job in figures.stale_jobs
        ],
    }


def run_document(run: CheckRun) -> dict:
    return {
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "trigger": run.trigger,
        "dry_run": run.dry_run,
        "outcome": run.outcome,
        "total_jobs": run.total_jobs,
        "stale_jobs": run.stale_jobs,
        "alerts_sent": run.alerts_sent,
        "suppressed_alerts": run.suppressed_alerts,
        "failed_alerts": run.failed_alerts,
        "error": run.error,
    }


def window_document(window: summary_figures.WindowMetrics) -> dict:
    return {
        "since": iso(window.since),
        "alerts_sent": window.alerts_sent,
        "alerts_suppressed": window.alerts_suppressed,
        "suppression_rate": window.suppression_rate,
        "alerted_jobs": window.alerted_jobs,
        "recovered_jobs": window.recovered_jobs,
        "false_positive_rate": window.false_positive_rate,
        "delivery_failures": {
            channel: {"failed": failures.failed, "errored": failures.errored}
            for channel, failures in window.failures.items()
        },
    }
