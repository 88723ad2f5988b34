"""Channel secrets' keys: re-encrypting every channel's secrets with the first key."""

from __future__ import annotations

from django.db import transaction

from heartbeats.models import Channel
from heartbeats.models.channel_secrets import SecretsUnreadable, rotate


def rotate_secrets() -> tuple[int, list[str]]:
    """Encrypt each channel's secrets again with CHANNEL_SECRET_KEY's first key, in one
    transaction; returns how many were re-encrypted and the names no key opens (left as
    they are, to be entered again in the admin)."""
    rotated, unreadable = 0, []
    with transaction.atomic():
        for channel in (
            Channel.objects.select_for_update().exclude(secrets_token="").order_by("name")
        ):
            try:
                token = rotate(channel.secrets_token)
            except SecretsUnreadable:
                unreadable.append(channel.name)
                continue
            Channel.objects.filter(pk=channel.pk).update(secrets_token=token)
            rotated += 1
    return rotated, unreadable
