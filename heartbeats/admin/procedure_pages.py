"""The runbook procedures that need a confirmation page (silence all alerts, bulk recovery),
and ending a silence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from heartbeats.admin.actions import changelist_url, log_jobs, log_table
from heartbeats.alerts import procedures
from heartbeats.domain import policy, queries, silence
from heartbeats.models import JobHeartbeat

MAX_SILENCE_HOURS = 168  # a week: longer is better done by pausing jobs


class ProcedureInputError(ValueError):
    """A confirmation form value that cannot be used; the message says why, in one line."""


@dataclass(frozen=True)
class Procedure:
    """A runbook procedure over the whole table, confirmed on a page that states its reach.

    `run` does it, records it in the admin history and returns what to tell the operator.
    """

    url_name: str
    title: str
    permission: str
    count: Callable[[datetime], int]
    run: Callable[[HttpRequest, datetime], str]
    explain: Callable[[int, datetime], str]
    asks_hours: bool = False


def _silence_hours(request: HttpRequest) -> float:
    """The silence's length from the confirmation form; the anti-spam window by default."""
    text = request.POST.get("hours", "").strip()
    default = policy.thresholds().suppression.total_seconds() / 3600
    try:
        hours = float(text) if text else default
    except ValueError:
        raise ProcedureInputError(f"{text[:20]} is not a number of hours.") from None
    if not 0 < hours <= MAX_SILENCE_HOURS:
        raise ProcedureInputError(f"Silence for more than 0 and at most {MAX_SILENCE_HOURS} h.")
    return hours


def _silence_explain(count: int, now: datetime) -> str:
    until = now + policy.thresholds().suppression
    message = ngettext(
        "No alert about any of the %(count)d job (every job, not only the selected ones) goes "
        "out until the time below, %(until)s by default. Alerts are not marked as sent: "
        "those still due when the silence ends go out then. 'Unsilence' ends it early.",
        "No alert about any of the %(count)d jobs (every job, not only the selected ones) goes "
        "out until the time below, %(until)s by default. Alerts are not marked as sent: "
        "those still due when the silence ends go out then. 'Unsilence' ends it early.",
        count,
    )
    return message % {"count": count, "until": f"{until:%Y-%m-%d %H:%M} UTC"}


def _silence_run(request: HttpRequest, now: datetime) -> str:
    until = now + timedelta(hours=_silence_hours(request))
    procedures.silence_all(now=now, until=until)
    done = f"Silenced all alerts until {until:%Y-%m-%d %H:%M} UTC."
    log_table(request, "all jobs", done)
    return done


def _stale_count(now: datetime) -> int:
    stale = queries.stale_jobs(now=now, stale_after=policy.thresholds().stale_after)
    return stale.filter(paused=False).count()


def _recover_explain(count: int, now: datetime) -> str:
    message = ngettext(
        "This gives the %(count)d stale job a fresh window from now, as resuming does: it is "
        "alerted again only if it then misses its schedule. Its last run stays as it was; "
        "paused jobs are left alone.",
        "This gives the %(count)d stale jobs a fresh window from now, as resuming does: each "
        "is alerted again only if it then misses its schedule. Their last runs stay as they "
        "were; paused jobs are left alone.",
        count,
    )
    return message % {"count": count}


def _recover_run(request: HttpRequest, now: datetime) -> str:
    names = procedures.bulk_recover(now=now)
    log_jobs(
        request,
        JobHeartbeat.objects.filter(job_name__in=names),
        f"Recovered by 'Bulk recover': a fresh window from {now:%Y-%m-%d %H:%M} UTC.",
    )
    message = ngettext(
        "Recovered %(count)d stale job.", "Recovered %(count)d stale jobs.", len(names)
    )
    done = message % {"count": len(names)}
    log_table(request, "all jobs", done)
    return done


SILENCE_ALL = Procedure(
    url_name="admin:heartbeats_jobheartbeat_silence_all",
    title="Silence all alerts",
    permission="heartbeats.silence_all_alerts",
    count=lambda now: JobHeartbeat.objects.count(),
    run=_silence_run,
    explain=_silence_explain,
    asks_hours=True,
)

BULK_RECOVER = Procedure(
    url_name="admin:heartbeats_jobheartbeat_bulk_recover",
    title="Bulk recover stale jobs",
    permission="heartbeats.bulk_recover_jobs",
    count=_stale_count,
    run=_recover_run,
    explain=_recover_explain,
)


def procedure_view(request: HttpRequest, *, modeladmin, procedure: Procedure) -> HttpResponse:
    """GET (or an action's POST) shows the confirmation page; POST with confirm=yes runs it."""
    if not request.user.has_perm(procedure.permission):
        raise PermissionDenied
    now = timezone.now()
    error = ""
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            with transaction.atomic():
                done = procedure.run(request, now)
        except ProcedureInputError as exc:
            error = str(exc)
        else:
            modeladmin.message_user(request, done, messages.SUCCESS)
            return HttpResponseRedirect(changelist_url())
    count = procedure.count(now)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": f"{procedure.title}: are you sure?",
        "procedure": procedure,
        "count": count,
        "explanation": procedure.explain(count, now),
        "action_url": reverse(procedure.url_name),
        "error": error,
        "default_hours": f"{policy.thresholds().suppression.total_seconds() / 3600:g}",
        "silenced_until": silence.silenced_until(now=now),
    }
    return TemplateResponse(
        request,
        "admin/heartbeats/jobheartbeat/confirm_procedure.html",
        context,
        status=400 if error else 200,
    )


@require_POST
def unsilence_view(request: HttpRequest, *, modeladmin) -> HttpResponse:
    """The "Unsilence" button: alerts are decided again from the next pass."""
    if not request.user.has_perm(SILENCE_ALL.permission):
        raise PermissionDenied
    if procedures.unsilence(now=timezone.now()):
        log_table(request, "all jobs", "Ended the silence of all alerts.")
        modeladmin.message_user(request, "Alerts are on again.", messages.SUCCESS)
    else:
        modeladmin.message_user(request, "Alerts were not silenced.", messages.WARNING)
    return HttpResponseRedirect(changelist_url())


@admin.action(
    description="Silence all alerts (every job, asks for confirmation)",
    permissions=["silence_all_alerts"],
)
def silence_all_alerts(modeladmin, request, queryset) -> HttpResponse:
    return procedure_view(request, modeladmin=modeladmin, procedure=SILENCE_ALL)


@admin.action(
    description="Bulk recover stale jobs (all stale jobs, asks for confirmation)",
    permissions=["bulk_recover_jobs"],
)
def bulk_recover_stale(modeladmin, request, queryset) -> HttpResponse:
    return procedure_view(request, modeladmin=modeladmin, procedure=BULK_RECOVER)
