"""The checks endpoints: list, get, create (or upsert with `unique`), update, pause, resume,
delete. Parse, call one service, answer with the check object."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from pydantic import ValidationError

from heartbeats.alerts import procedures
from heartbeats.api import checks, writes
from heartbeats.api.endpoint import READ, WRITE, Call, endpoint, error
from heartbeats.api.schemas import first_error, parse_spec
from heartbeats.models import JobHeartbeat


def _check(call: Call, job: JobHeartbeat, status: int = 200) -> JsonResponse:
    body = checks.to_dict(job, readonly=call.readonly, v=call.v, now=timezone.now())
    return JsonResponse(body, status=status)


def not_found(request: HttpRequest | None = None) -> JsonResponse:
    return error("not found", 404)


def list_checks(call: Call) -> JsonResponse:
    jobs = checks.listed(
        tag_filter=call.request.GET.getlist("tag"), slug=call.request.GET.get("slug")
    )
    now = timezone.now()
    found = [checks.to_dict(job, readonly=call.readonly, v=call.v, now=now) for job in jobs]
    return JsonResponse({"checks": found})


def create_check(call: Call) -> HttpResponse:
    try:
        spec = parse_spec(call.json)
        with transaction.atomic():
            existing = writes.find_unique(spec)
            if existing is not None:
                return _check(call, writes.update(existing, spec, now=timezone.now(), v=call.v))
            return _check(call, writes.create(spec, now=timezone.now()), 201)
    except ValidationError as exc:
        return error(first_error(exc))
    except writes.SpecError as exc:
        return error(str(exc), exc.status)


def get_check(call: Call, code: str) -> JsonResponse:
    job = checks.by_id(code, unique_key_too=True)
    return not_found() if job is None else _check(call, job)


def _writable(code: str) -> JobHeartbeat | None:
    return checks.by_id(code, unique_key_too=False)


def update_check(call: Call, code: str) -> JsonResponse:
    job = _writable(code)
    if job is None:
        return not_found()
    try:
        spec = parse_spec(call.json)
        with transaction.atomic():
            return _check(call, writes.update(job, spec, now=timezone.now(), v=call.v))
    except ValidationError as exc:
        return error(first_error(exc))
    except writes.SpecError as exc:
        return error(str(exc), exc.status)


def delete_check(call: Call, code: str) -> JsonResponse:
    job = _writable(code)
    if job is None:
        return not_found()
    answer = _check(call, job)
    job.delete()
    return answer


def pause_check(call: Call, code: str) -> JsonResponse:
    job = _writable(code)
    if job is None:
        return not_found()
    procedures.set_paused(JobHeartbeat.objects.filter(pk=job.pk), paused=True, now=timezone.now())
    job.refresh_from_db()
    return _check(call, job)


def resume_check(call: Call, code: str) -> JsonResponse:
    job = _writable(code)
    if job is None:
        return not_found()
    if not job.paused:
        return error("check is not paused", 409)
    procedures.set_paused(JobHeartbeat.objects.filter(pk=job.pk), paused=False, now=timezone.now())
    job.refresh_from_db()
    return _check(call, job)


checks_view = endpoint(GET=(list_checks, READ), POST=(create_check, WRITE))
single_view = endpoint(
    GET=(get_check, READ), POST=(update_check, WRITE), DELETE=(delete_check, WRITE)
)
pause_view = endpoint(POST=(pause_check, WRITE))
resume_view = endpoint(POST=(resume_check, WRITE))
