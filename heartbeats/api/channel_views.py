"""The channels endpoints: `GET channels/` as Healthchecks answers it (the environment's
channels included), and beyond Healthchecks create, get, change and delete."""

from __future__ import annotations

import uuid

from django.http import HttpResponse, JsonResponse

from heartbeats.api import channels
from heartbeats.api.channel_schemas import parse_channel
from heartbeats.api.endpoint import READ, WRITE, Call, endpoint, error, written
from heartbeats.models import Channel

READ_ONLY = "channel {!r} comes from the environment; change it there, not over the API"


def _stored(code: str) -> Channel | None:
    try:
        return Channel.objects.filter(id=uuid.UUID(code)).first()
    except ValueError:
        return None


def list_channels(call: Call) -> JsonResponse:
    return JsonResponse({"channels": channels.listed()})


def _write(call: Call, channel: Channel, status: int) -> HttpResponse:
    return written(lambda: channels.to_dict(channels.save(channel, parse_channel(call.json))),
                   status)  # fmt: skip


def create_channel(call: Call) -> HttpResponse:
    return _write(call, Channel(), 201)


def get_channel(call: Call, code: str) -> JsonResponse:
    if (shown := channels.environment().get(code)) is not None:
        return JsonResponse(shown)
    channel = _stored(code)
    return error("not found", 404) if channel is None else JsonResponse(channels.to_dict(channel))


def update_channel(call: Call, code: str) -> HttpResponse:
    if code in channels.environment():
        return error(READ_ONLY.format(code), 403)
    channel = _stored(code)
    return error("not found", 404) if channel is None else _write(call, channel, 200)


def delete_channel(call: Call, code: str) -> JsonResponse:
    if code in channels.environment():
        return error(READ_ONLY.format(code), 403)
    channel = _stored(code)
    if channel is None:
        return error("not found", 404)
    shown = channels.to_dict(channel)
    channel.delete()
    return JsonResponse(shown)


channels_view = endpoint(GET=(list_channels, READ), POST=(create_channel, WRITE))
channel_view = endpoint(
    GET=(get_channel, READ), POST=(update_channel, WRITE), DELETE=(delete_channel, WRITE)
)
