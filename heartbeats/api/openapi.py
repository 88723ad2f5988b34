"""The OpenAPI 3.1 description of the management API, served at /api/v3/openapi.json; the
request schema comes from the pydantic model the API validates with, so they cannot drift."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from heartbeats.api.channel_schemas import ChannelSpec
from heartbeats.api.maintenance_schemas import MaintenanceSpec
from heartbeats.api.schemas import CheckSpec

ERROR = {"$ref": "#/components/responses/Error"}
STANDARD = {"401": ERROR, "429": ERROR}


def _op(summary: str, ok: str, *, body: str = "", codes: dict | None = None) -> dict[str, Any]:
    """An operation; `body` names the request body's schema."""
    responses = {"200": {"description": ok}, **STANDARD, **(codes or {})}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body:
        op["requestBody"] = {
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}
        }
        responses["400"] = ERROR
    return op


CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The check's UUID (or, with a read-only key, its unique_key)."}  # fmt: skip
NOT_FOUND = {"404": ERROR}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
CREATED = {"201": {"description": "created"}}


def _config_paths() -> dict[str, Any]:
    """Beyond Healthchecks: channels (the list is Healthchecks' own) and maintenance windows."""
    channels, windows = "/api/v3/channels/", "/api/v3/maintenance/"
    read_only = {"403": ERROR, **NOT_FOUND}
    return {
        channels: {
            "get": _op("List channels: id, name, kind (and the settings shown)", "channels"),
            "post": _op("Create a channel (201)", "", body="Channel",
                        codes={**CREATED, "409": ERROR}),
        },
        channels + "{id}": {
            "parameters": [{**ID, "description": "A stored channel's UUID, or slack / email "
                            "for the environment's (read-only)"}],
            "get": _op("Get a channel; secrets only as <setting>_set", "the channel",
                       codes=NOT_FOUND),
            "post": _op("Change a channel; omitted fields stay", "the channel", body="Channel",
                        codes={**read_only, "409": ERROR}),
            "delete": _op("Delete a channel", "the deleted channel", codes=read_only),
        },
        windows: {
            "get": _op("List maintenance windows (the silence included)", "maintenance"),
            "post": _op("Create a window (201)", "", body="Maintenance", codes=CREATED),
        },
        windows + "{id}": {
            "parameters": [{**ID, "description": "The window's UUID"}],
            "get": _op("Get a window", "the window", codes=NOT_FOUND),
            "post": _op("Change a window; omitted fields stay", "the window", body="Maintenance",
                        codes=read_only),
            "delete": _op("Delete a window", "the deleted window", codes=read_only),
        },
    }  # fmt: skip


@cache
def description() -> dict[str, Any]:
    checks = "/api/v3/checks/"
    one = checks + "{code}"
    paths = {
        checks: {
            "get": _op("List checks (?tag= repeatable, all must match; ?slug=)", "checks"),
            "post": _op("Create a check (201), or update the match of `unique` (200)",
                        "the matching check, updated", body="Check",
                        codes={"201": {"description": "the new check"}, "409": ERROR}),
        },
        one: {
            "parameters": [CODE],
            "get": _op("Get a check", "the check", codes=NOT_FOUND),
            "post": _op("Update a check; omitted fields stay", "the check", body="Check",
                        codes=NOT_FOUND),
            "delete": _op("Delete a check", "the deleted check", codes=NOT_FOUND),
        },
        one + "/pause": {"parameters": [CODE], "post": _op("Pause", "the check", codes=NOT_FOUND)},
        one + "/resume": {"parameters": [CODE], "post": _op(
            "Resume a paused check", "the check", codes={**NOT_FOUND, "409": ERROR})},
        one + "/pings/": {"parameters": [CODE], "get": _op(
            "Logged pings, newest first (read-write key)", "pings", codes=NOT_FOUND)},
        one + "/pings/{n}/body": {
            "parameters": [CODE, {"name": "n", "in": "path", "required": True,
                                  "schema": {"type": "integer"}}],
            "get": _op("A ping's body, text/plain", "the body", codes=NOT_FOUND),
        },
        one + "/flips/": {"parameters": [CODE, *(
            {"name": name, "in": "query", "schema": {"type": "integer", "minimum": 0}}
            for name in ("seconds", "start", "end"))],
            "get": _op("Changes between up and down, newest first", "flips",
                       codes={**NOT_FOUND, "400": ERROR})},
        **_config_paths(),
        "/api/v3/badges/": {"get": _op("Badge URLs per tag and overall (*)", "badges")},
        "/api/v3/status/": {"get": {"summary": "Database connectivity (no key)", "security": [],
                                    "responses": {"200": {"description": "OK"}}}},
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cronmonitor management API",
            "version": "3",
            "description": "Healthchecks-compatible (v1, v2 and v3 share these paths); "
            "channel writes and maintenance windows go beyond Healthchecks. "
            "See docs/api.md.",
        },
        "paths": paths,
        "security": [{"ApiKey": []}],
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
            "schemas": {
                "Check": CheckSpec.model_json_schema(),
                "Channel": ChannelSpec.model_json_schema(),
                "Maintenance": MaintenanceSpec.model_json_schema(by_alias=True),
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                },
            },
            "responses": {
                "Error": {
                    "description": "An error",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
        },
    }


@require_GET
def openapi_view(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(description())
    response["Access-Control-Allow-Origin"] = "*"
    return response
