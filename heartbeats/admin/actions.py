"""The runbook's procedures as admin actions and buttons, each one call to a service or the checker.

Every procedure reports through the messages framework and writes an admin log entry: one per
job for actions on selected jobs, one for the whole table for procedures that touch every job.
"""

from __future__ import annotations

import time

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from heartbeats.alerts import check_run, procedures, test_alert
from heartbeats.domain import policy
from heartbeats.models import JobHeartbeat
from heartbeats.redaction import redact

NOT_PROBLEM = "healthy: nothing to alert"


# One check, one message: beyond this a selection is better served by the whole checker.
FORCE_ALERT_LIMIT = 500
# The buttons that run the checker send for at most this long (each request's timeouts cut
# to what is left), so the page answers in seconds even when a webhook never does.
SEND_BUDGET_SECONDS = 5.0


def _user_id(request: HttpRequest) -> int:
    assert request.user.is_authenticated, "the admin site lets only signed-in staff in"
    return request.user.pk


def log_jobs(request: HttpRequest, jobs: QuerySet[JobHeartbeat], message: str) -> None:
    LogEntry.objects.log_actions(_user_id(request), jobs, CHANGE, message)


def log_table(request: HttpRequest, what: str, message: str) -> None:
    """One history entry for a procedure that concerns the whole table, not chosen jobs."""
    LogEntry.objects.create(
        user_id=_user_id(request),
        content_type=ContentType.objects.get_for_model(JobHeartbeat),
        object_repr=what,
        action_flag=CHANGE,
        change_message=message,
    )


def changelist_url() -> str:
    return reverse("admin:heartbeats_jobheartbeat_changelist")


@admin.action(
    description="Reset alert timestamp (the next check alerts again)", permissions=["change"]
)
def reset_alert_timestamp(modeladmin, request, queryset) -> None:
    with transaction.atomic():
        log_jobs(request, queryset, "Reset the alert timestamp.")
        count = procedures.reset_alerts(queryset, now=timezone.now())
    message = ngettext(
        "Reset the alert timestamp of %(count)d job: the next check alerts it if it is stale.",
        "Reset the alert timestamp of %(count)d jobs: the next check alerts them if stale.",
        count,
    )
    modeladmin.message_user(request, message % {"count": count}, messages.SUCCESS)


def _forced_outcome(name: str, outcome: check_run.JobOutcome | None) -> str:
    """One job's line of the force-alert report; a job the checker skipped had no problem."""
    if outcome is None:
        return f"{name}: {NOT_PROBLEM}"
    return f"{name}: {outcome.action}" + (f" ({outcome.detail})" if outcome.detail else "")


@admin.action(description="Force alert now (reset, then check these jobs)", permissions=["change"])
def force_alert(modeladmin, request, queryset) -> None:
    names = list(queryset.values_list("job_name", flat=True)[: FORCE_ALERT_LIMIT + 1])
    if len(names) > FORCE_ALERT_LIMIT:
        modeladmin.message_user(
            request,
            f"Force alert takes at most {FORCE_ALERT_LIMIT} jobs at once; narrow the selection, "
            "or reset their alert timestamps and use 'Run health check now'.",
            messages.ERROR,
        )
        return
    now = timezone.now()
    with transaction.atomic():
        log_jobs(request, queryset, "Forced an alert.")
        procedures.reset_alerts(queryset, now=now)
    result = check_run.run_check(
        now=now, trigger="manual", dry_run=False, job_names=names, deadline=_send_deadline()
    )
    outcomes = {outcome.job_name: outcome for outcome in result.jobs}
    lines = [_forced_outcome(name, outcomes.get(name)) for name in names]
    all_sent = bool(names) and all(
        name in outcomes and outcomes[name].action == "sent" for name in names
    )
    message = ngettext(
        "Forced a check of %(count)d job: %(outcomes)s.",
        "Forced a check of %(count)d jobs: %(outcomes)s.",
        len(names),
    )
    level = messages.SUCCESS if all_sent else messages.WARNING
    text = message % {"count": len(names), "outcomes": "; ".join(lines)}
    note = _left_note(result)
    modeladmin.message_user(request, f"{text} {note}" if note else text, level)


def _send_deadline() -> float:
    return time.monotonic() + SEND_BUDGET_SECONDS


def _left_note(result: check_run.CheckResult) -> str:
    """What the sending budget left unsent: it stays pending for the next checker pass."""
    count = result.left_for_next_pass
    if not count:
        return ""
    note = ngettext(
        "%(count)d delivery was not sent within %(seconds)g s and stays pending: the next "
        "checker pass sends it.",
        "%(count)d deliveries were not sent within %(seconds)g s and stay pending: the next "
        "checker pass sends them.",
        count,
    )
    return note % {"count": count, "seconds": SEND_BUDGET_SECONDS}


def _set_paused(modeladmin, request, queryset, *, paused: bool) -> None:
    with transaction.atomic():
        log_jobs(request, queryset, "Paused." if paused else "Resumed.")
        count = procedures.set_paused(queryset, paused=paused, now=timezone.now())
    if paused:
        message = ngettext(
            "Paused %(count)d job: no alerts until it is resumed.",
            "Paused %(count)d jobs: no alerts until they are resumed.",
            count,
        )
    else:
        message = ngettext("Resumed %(count)d job.", "Resumed %(count)d jobs.", count)
    modeladmin.message_user(request, message % {"count": count}, messages.SUCCESS)


@admin.action(description="Pause (no alerts; pings are still recorded)", permissions=["change"])
def pause_jobs(modeladmin, request, queryset) -> None:
    _set_paused(modeladmin, request, queryset, paused=True)


@admin.action(description="Resume", permissions=["change"])
def resume_jobs(modeladmin, request, queryset) -> None:
    _set_paused(modeladmin, request, queryset, paused=False)


def _require_change(modeladmin, request: HttpRequest) -> None:
    if not modeladmin.has_change_permission(request):
        raise PermissionDenied


@require_POST
def run_check_view(request: HttpRequest, *, modeladmin) -> HttpResponse:
    """The "Run health check now" button: the checker with trigger manual, as a message."""
    _require_change(modeladmin, request)
    result = check_run.run_check(
        now=timezone.now(), trigger="manual", dry_run=False, job_names=None,
        deadline=_send_deadline(),
    )  # fmt: skip
    summary = result.summary_line()
    log_table(request, "health check", f"Ran the health check: {summary}")
    failed = result.failed_alerts or result.left_for_next_pass
    level = messages.WARNING if failed else messages.SUCCESS
    note = _left_note(result)
    text = f"Health check finished: {summary}" + (f". {note}" if note else "")
    modeladmin.message_user(request, text, level)
    return HttpResponseRedirect(changelist_url())


@require_POST
def test_alert_view(request: HttpRequest, *, modeladmin) -> HttpResponse:
    """The runbook's troubleshooting "Check 2": a marked test message on every channel."""
    _require_change(modeladmin, request)
    outcomes = test_alert.send_test_alert(now=timezone.now())
    if not outcomes:
        modeladmin.message_user(request, policy.NO_CHANNEL_MESSAGE, messages.ERROR)
        return HttpResponseRedirect(changelist_url())
    for outcome in outcomes:
        if outcome.ok:
            modeladmin.message_user(request, f"Test alert delivered on {outcome.channel}.")
        else:
            text = f"Test alert on {outcome.channel} failed: {redact(outcome.error)}"
            modeladmin.message_user(request, text, messages.ERROR)
    delivered = sum(outcome.ok for outcome in outcomes)
    log_table(request, "test alert", f"Sent a test alert: {delivered}/{len(outcomes)} delivered.")
    return HttpResponseRedirect(changelist_url())
