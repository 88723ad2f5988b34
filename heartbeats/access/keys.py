"""API keys: made here, shown once, stored as their SHA-256 only.

A key is `cm_` and 40 random URL-safe characters (240 bits): a hash without salt or stretching
is enough for a random secret that long, and lets a request find its key with one indexed
lookup instead of trying every stored hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from heartbeats.models import ApiKey

PREFIX = "cm_"


@dataclass(frozen=True)
class IssuedKey:
    record: ApiKey
    key: str  # the only time the key exists in clear


def digest(key: str) -> str:
    return hashlib.sha256(key.encode(errors="replace")).hexdigest()


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(30)


def issue(*, name: str, read_only: bool, now: datetime) -> IssuedKey:
    """Create a key called `name`; the caller shows `IssuedKey.key` once."""
    key = new_key()
    record = ApiKey.objects.create(
        name=name, read_only=read_only, prefix=key[:10], digest=digest(key), created_at=now
    )
    return IssuedKey(record=record, key=key)


def attach_new_key(record: ApiKey) -> str:
    """Give an unsaved key made in the admin its secret; returns the key to show once."""
    key = new_key()
    record.prefix, record.digest = key[:10], digest(key)
    return key


def find(key: str) -> ApiKey | None:
    """The live (not revoked) key matching `key`, or None."""
    if not key:
        return None
    return ApiKey.objects.filter(digest=digest(key), revoked_at__isnull=True).first()


def revoke(records, *, now: datetime) -> int:
    """Revoke the given keys (a queryset); returns how many were live."""
    return records.filter(revoked_at__isnull=True).update(revoked_at=now)
