"""Ping endpoints that speak Healthchecks.io's protocol, so any of its clients, or one `curl`,
reports a job from a host without the app. Parse, call `recording.record_signal`, answer.

No login, CSRF, session or user: nothing here touches `request.session` or `request.user`,
so a ping costs its own queries only and sets no cookie.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from heartbeats.domain import policy, rules
from heartbeats.signals import recording, signal_input
from heartbeats.web.unavailable import database_unavailable

PING_METHODS = ("GET", "HEAD", "POST")


def _text(message: str, status: int = 200) -> HttpResponse:
    return HttpResponse(message, content_type="text/plain; charset=utf-8", status=status)


def ping_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """What every ping response shares: methods, no caching, no CSRF, the body limit header."""

    @csrf_exempt
    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method in PING_METHODS:
            response = view(request, *args, **kwargs)
        else:
            response = _text("method not allowed", 405)
            response["Allow"] = ", ".join(PING_METHODS)
        response["Ping-Body-Limit"] = str(policy.ping_body_limit())
        return response

    return wrapper


@ping_view
def ping_by_uuid(request: HttpRequest, job_uuid: uuid.UUID, signal: str = "") -> HttpResponse:
    return _ping(request, signal=signal, job_uuid=job_uuid)


@ping_view
def ping_by_name(request: HttpRequest, key: str, job_name: str, signal: str = "") -> HttpResponse:
    return _ping(request, signal=signal, job_name=job_name, key=key)


@ping_view
def unknown(request: HttpRequest) -> HttpResponse:
    return _text("not found", 404)


def _ping(
    request: HttpRequest,
    *,
    signal: str,
    job_uuid: uuid.UUID | None = None,
    job_name: str | None = None,
    key: str | None = None,
) -> HttpResponse:
    # A wrong key must answer as an unknown job does, so input errors are found before it.
    try:
        kind, exit_status = signal_input.parse_signal(signal)
        rid = signal_input.parse_rid(request.GET["rid"]) if "rid" in request.GET else None
        tags = signal_input.parse_tags(request.GET.get("tags", ""))
        if job_name is not None:
            signal_input.validate_signal(job_name=job_name, status=None)
    except signal_input.InvalidSignal as exc:
        return _text(str(exc), 400)
    if key is not None and not rules.ping_key_matches(key, policy.ping_keys()):
        return _text("not found", 404)
    assert request.method is not None, "a request Django routed has a method"
    try:
        result = recording.record_signal(
            now=timezone.now(),
            kind=kind,
            job_name=job_name,
            job_uuid=job_uuid,
            create=key is not None and request.GET.get("create") == "1",
            exit_status=exit_status,
            rid=rid,
            body=_read_body(request),
            remote_addr=_remote_addr(request),
            method=request.method,
            user_agent=request.headers.get("User-Agent", ""),
            classify=True,
            tags=tags,
        )
    except DatabaseError as exc:
        return database_unavailable(request, exc, _text("database unavailable, try again later"))
    if result is None:
        return _text("not found", 404)
    return _text("Created", 201) if result.created else _text("OK")


def _read_body(request: HttpRequest) -> str:
    """At most PING_BODY_LIMIT bytes: reading the stream, not `request.body`, truncates a
    longer body instead of refusing it (DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    return request.read(policy.ping_body_limit()).decode(errors="replace")


def _remote_addr(request: HttpRequest) -> str:
    """The client's address; behind our proxy, the one it appended to X-Forwarded-For (earlier
    entries come from the client and prove nothing)."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if policy.behind_proxy() and forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    return request.META.get("REMOTE_ADDR", "")
