"""Channel secrets at rest: a JSON object encrypted with Fernet (authenticated encryption).

The keys are CHANNEL_SECRET_KEY's, the first one encrypting, each one decrypting (MultiFernet),
so a key is rotated by putting the new one first and running `manage.py rotate_channel_secrets`.
A key derived from SECRET_KEY encrypts when CHANNEL_SECRET_KEY is unset, and always decrypts,
so setting CHANNEL_SECRET_KEY later needs only that command. A database dump holds tokens only.
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretsUnreadable(Exception):
    """No configured key opens a channel's secrets (the key was changed without rotating)."""


def _derived_key() -> bytes:
    digest = hashlib.sha256(b"cronmonitor channel secrets:" + settings.SECRET_KEY.encode())
    return base64.urlsafe_b64encode(digest.digest())


def _fernet() -> MultiFernet:
    keys = [key.encode() for key in settings.CHANNEL_SECRET_KEY]
    return MultiFernet([Fernet(key) for key in [*keys, _derived_key()]])


def encrypt(secrets: dict[str, object]) -> str:
    """The token stored for `secrets` ("" when there are none)."""
    if not secrets:
        return ""
    return _fernet().encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise SecretsUnreadable(
            "no key in CHANNEL_SECRET_KEY (nor the one from SECRET_KEY) opens this channel's "
            "secrets: restore the old key, or enter the secrets again"
        ) from None


def rotate(token: str) -> str:
    """`token` encrypted again with the first key (the same secrets)."""
    if not token:
        return token
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretsUnreadable("no configured key opens this channel's secrets") from None
