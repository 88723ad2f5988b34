"""The OpenAPI 3.1 description of the management API, served at /api/v3/openapi.json; the
request schema comes from the pydantic model the API validates with, so they cannot drift."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from heartbeats.api.schemas import CheckSpec

ERROR = {"$ref": "#/components/responses/Error"}
STANDARD = {"401": ERROR, "429": ERROR}


def _op(summary: str, ok: str, *, body: bool = False, codes: dict | None = None) -> dict[str, Any]:
    responses = {"200": {"description": ok}, **STANDARD, **(codes or {})}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body:
        op["requestBody"] = {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Check"}}}
        }
        responses["400"] = ERROR
    return op


CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "The check's UUID (or, with a read-only key, its unique_key)."}  # fmt: skip
NOT_FOUND = {"404": ERROR}


@cache
def description() -> dict[str, Any]:
    checks = "/api/v3/checks/"
    one = checks + "{code}"
    paths = {
        checks: {
            "get": _op("List checks (?tag= repeatable, all must match; ?slug=)", "checks"),
            "post": _op("Create a check (201), or update the match of `unique` (200)",
                        "the matching check, updated", body=True,
                        codes={"201": {"description": "the new check"}, "409": ERROR}),
        },
        one: {
            "parameters": [CODE],
            "get": _op("Get a check", "the check", codes=NOT_FOUND),
            "post": _op("Update a check; omitted fields stay", "the check", body=True,
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
        "/api/v3/badges/": {"get": _op("Badge URLs per tag and overall (*)", "badges")},
        "/api/v3/status/": {"get": {"summary": "Database connectivity (no key)", "security": [],
                                    "responses": {"200": {"description": "OK"}}}},
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cronmonitor management API",
            "version": "3",
            "description": "Healthchecks-compatible (v1, v2 and v3 share these paths). "
            "See docs/api.md.",
        },
        "paths": paths,
        "security": [{"ApiKey": []}],
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
            "schemas": {
                "Check": CheckSpec.model_json_schema(),
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
