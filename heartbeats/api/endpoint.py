"""What every API endpoint shares, as Healthchecks' decorators do: CORS and the OPTIONS
preflight, the methods allowed, the JSON body (size-limited, an object), the API key (header
or `"api_key"` in the body; read-only keys on reads only), the rate limit, and the error
answers `{"error": "..."}`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from heartbeats.access import keys, rate_limit
from heartbeats.api.schemas import first_error
from heartbeats.api.writes import SpecError
from heartbeats.models import ApiKey

logger = logging.getLogger(__name__)

READ, WRITE = "read", "write"


@dataclass
class Call:
    """One authorised API request, as the views see it."""

    request: HttpRequest
    key: ApiKey
    v: int
    json: dict[str, Any]

    @property
    def readonly(self) -> bool:
        return self.key.read_only


Handler = Callable[..., HttpResponse]


def error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def written(write: Callable[[], dict[str, Any]], status: int = 200) -> HttpResponse:
    """The answer to a write: `write()`'s object, run in one transaction, or the reason it was
    refused (nothing written)."""
    try:
        with transaction.atomic():
            shown = write()
    except ValidationError as exc:
        return error(first_error(exc))
    except SpecError as exc:
        return error(str(exc), exc.status)
    return JsonResponse(shown, status=status)


def _body(request: HttpRequest) -> dict[str, Any] | JsonResponse:
    """The JSON object in a POST body ({} without one), or the error answer."""
    if request.method != "POST":
        return {}
    limit = settings.API_BODY_LIMIT
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return error(f"request body is larger than {limit} bytes")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode(), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return error("could not parse request body")
    if not isinstance(data, dict):
        return error("json validation error: value is not an object")
    return data


def _refuse_constant(name: str) -> None:
    raise ValueError(name)


def _authorise(request: HttpRequest, data: dict, access: str) -> ApiKey | JsonResponse:
    given = request.headers.get("X-Api-Key")
    if given is None:
        given = data.get("api_key", "")
    if not isinstance(given, str) or not given:
        return error("missing api key", 401)
    key = keys.find(given)
    # As Healthchecks: a read-only key on a write endpoint is simply not a key for it.
    if key is None or (access == WRITE and key.read_only):
        return error("wrong api key", 401)
    return key


def _call(request: HttpRequest, handler: Handler, access: str, kwargs: dict) -> HttpResponse:
    data = _body(request)
    if isinstance(data, JsonResponse):
        return data
    key = _authorise(request, data, access)
    if isinstance(key, JsonResponse):
        return key
    verdict = rate_limit.count_request(key, now=timezone.now())
    if not verdict.allowed:
        response = error("rate limit exceeded, try again later", 429)
        response["Retry-After"] = str(verdict.retry_after)
        return response
    v = kwargs.pop("v")
    return handler(Call(request=request, key=key, v=v, json=data), **kwargs)


def endpoint(**methods: tuple[Handler, str]) -> Callable[..., HttpResponse]:
    """A view answering each method in `methods` (GET=(handler, READ), ...) and OPTIONS."""
    allowed = ", ".join([*methods, "OPTIONS"])

    @csrf_exempt
    @never_cache
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        assert request.method is not None, "a request Django routed has a method"
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
        elif request.method not in methods:
            response = error("method not allowed", 405)
            response["Allow"] = allowed
        else:
            handler, access = methods[request.method]
            try:
                response = _call(request, handler, access, kwargs)
            except DatabaseError:
                logger.exception("API request failed on the database")
                response = error("database unavailable, try again later", 503)
                response["Retry-After"] = "30"
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Allow-Headers"] = "X-Api-Key, Content-Type"
        response["Access-Control-Allow-Methods"] = allowed
        response["Access-Control-Max-Age"] = "600"
        return response

    return view
