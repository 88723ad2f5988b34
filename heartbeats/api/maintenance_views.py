"""The maintenance window endpoints (beyond Healthchecks, in its conventions): list, create,
get, change and delete; the silence window is read-only here."""

from __future__ import annotations

import uuid

from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from heartbeats.api import maintenance
from heartbeats.api.endpoint import READ, WRITE, Call, endpoint, error, written
from heartbeats.api.maintenance_schemas import parse_window
from heartbeats.models import MaintenanceWindow


def _window(code: str) -> MaintenanceWindow | None:
    try:
        return MaintenanceWindow.objects.filter(id=uuid.UUID(code)).first()
    except ValueError:
        return None


def list_windows(call: Call) -> JsonResponse:
    return JsonResponse({"maintenance": maintenance.listed(now=timezone.now())})


def _write(call: Call, window: MaintenanceWindow, status: int) -> HttpResponse:
    def write() -> dict:
        saved = maintenance.save(window, parse_window(call.json))
        return maintenance.to_dict(saved, now=timezone.now())

    return written(write, status)


def create_window(call: Call) -> HttpResponse:
    return _write(call, MaintenanceWindow(), 201)


def get_window(call: Call, code: str) -> JsonResponse:
    window = _window(code)
    if window is None:
        return error("not found", 404)
    return JsonResponse(maintenance.to_dict(window, now=timezone.now()))


def update_window(call: Call, code: str) -> HttpResponse:
    window = _window(code)
    return error("not found", 404) if window is None else _write(call, window, 200)


def delete_window(call: Call, code: str) -> JsonResponse:
    window = _window(code)
    if window is None:
        return error("not found", 404)
    if window.silence:
        return error("the silence is set and ended from the job list, not over the API", 403)
    shown = maintenance.to_dict(window, now=timezone.now())
    window.delete()
    return JsonResponse(shown)


windows_view = endpoint(GET=(list_windows, READ), POST=(create_window, WRITE))
window_view = endpoint(
    GET=(get_window, READ), POST=(update_window, WRITE), DELETE=(delete_window, WRITE)
)
