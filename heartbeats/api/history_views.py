"""A check's logged pings, a ping's body, and its flips (changes between up and down)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from pydantic import BaseModel, Field, ValidationError

from heartbeats.api import checks
from heartbeats.api.check_views import not_found
from heartbeats.api.endpoint import READ, WRITE, Call, endpoint, error
from heartbeats.api.schemas import first_error
from heartbeats.domain import policy
from heartbeats.models import Flip, FlipStatus, PingEvent

MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z


def _ping(event: PingEvent, *, body_base: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": "success" if event.kind == "success" else event.kind,
        "date": event.created_at.isoformat(),
        "n": event.n,
        "scheme": "http",
        "remote_addr": event.remote_addr,
        "method": event.method,
        "ua": event.user_agent,
        "rid": str(event.rid) if event.rid else None,
        "exitstatus": event.exit_status,
        "body_url": f"{body_base}/{event.n}/body" if event.body and event.n else None,
    }
    if event.duration is not None:
        result["duration"] = event.duration.total_seconds()
    return result


def list_pings(call: Call, code: str) -> JsonResponse:
    job = checks.by_id(code, unique_key_too=False)
    if job is None:
        return not_found()
    events = PingEvent.objects.filter(job=job).order_by("-created_at", "-id")
    base = f"{settings.SITE_URL.rstrip('/')}/api/v{call.v}/checks/{job.uuid}/pings"
    return JsonResponse(
        {"pings": [_ping(e, body_base=base) for e in events[: policy.events_kept()]]}
    )


def ping_body(call: Call, code: str, n: int) -> HttpResponse:
    job = checks.by_id(code, unique_key_too=False)
    event = None if job is None else PingEvent.objects.filter(job=job, n=n).first()
    if event is None or not event.body:
        return not_found()
    return HttpResponse(event.body, content_type="text/plain; charset=utf-8")


class FlipFilter(BaseModel):
    """?seconds= (the last N seconds), ?start= and ?end= (UNIX times), as Healthchecks takes."""

    seconds: int | None = Field(None, ge=0, le=31536000)
    start: int | None = Field(None, ge=0, le=MAX_TIMESTAMP)
    end: int | None = Field(None, ge=0, le=MAX_TIMESTAMP)


def _filtered(flips: QuerySet[Flip], given: FlipFilter) -> QuerySet[Flip]:
    if given.start is not None:
        flips = flips.filter(created_at__gte=datetime.fromtimestamp(given.start, UTC))
    if given.end is not None:
        flips = flips.filter(created_at__lt=datetime.fromtimestamp(given.end, UTC))
    if given.seconds is not None:
        flips = flips.filter(created_at__gte=timezone.now() - timedelta(seconds=given.seconds))
    return flips


def list_flips(call: Call, code: str) -> JsonResponse:
    job = checks.by_id(code, unique_key_too=True)
    if job is None:
        return not_found()
    try:
        given = FlipFilter.model_validate(
            {k: v for k, v in call.request.GET.items() if k in FlipFilter.model_fields}
        )
    except ValidationError as exc:
        return error(first_error(exc).replace("json validation error", "invalid query"))
    flips = _filtered(job.flips.order_by("-created_at", "-id"), given)
    return JsonResponse(
        {
            "flips": [
                {"timestamp": f.created_at.isoformat(), "up": int(f.new_status == FlipStatus.UP)}
                for f in flips
            ]
        }
    )


pings_view = endpoint(GET=(list_pings, WRITE))
ping_body_view = endpoint(GET=(ping_body, WRITE))
flips_view = endpoint(GET=(list_flips, READ))
