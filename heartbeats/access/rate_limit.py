"""The per-key rate limit, shared by every process through one counter row per key and minute.

Counting is one atomic upsert (INSERT ... ON CONFLICT DO UPDATE ... RETURNING) on both
databases, so concurrent requests never lose a count; the same statement records the key's
last use once per minute, and old rows are pruned by retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from heartbeats.models import ApiKey, ApiRequestCount

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the next minute starts


def limit() -> int:
    return settings.API_RATE_LIMIT


def count_request(key: ApiKey, *, now: datetime) -> Verdict:
    """Count one request of `key` in the current minute; refused past the limit."""
    minute = now.replace(second=0, microsecond=0)
    table = ApiRequestCount._meta.db_table
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key_id, minute, count) VALUES (%s, %s, 1) "
            f"ON CONFLICT (key_id, minute) DO UPDATE SET count = {table}.count + 1 "
            "RETURNING count",
            [key.pk, ops.adapt_datetimefield_value(minute)],
        )
        (count,) = cursor.fetchone()
    if count == 1:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    retry_after = max(1, int((minute + MINUTE - now).total_seconds() + 0.999))
    return Verdict(allowed=count <= limit(), retry_after=retry_after)


def prune(*, before: datetime) -> int:
    """Delete the counts of minutes before `before`."""
    return ApiRequestCount.objects.filter(minute__lt=before).delete()[0]
