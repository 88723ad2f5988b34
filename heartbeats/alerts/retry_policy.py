"""How long delivery waits: the backoff between attempts and the longest one attempt can take
(which the delivery lease must outlast)."""

from __future__ import annotations

from django.conf import settings


def backoff_seconds(attempt: int, *, jitter: float) -> float:
    """The pause before in-run retry `attempt + 1`: doubling, plus up to half again (jitter
    in 0..1) so checkers that failed together do not retry together."""
    return settings.ALERT_RETRY_BASE_SECONDS * 2**attempt * (1 + jitter / 2)


def longest_attempt_seconds() -> float:
    """An upper bound on one `_attempt`: every try timing out, and every pause as long as its
    backoff with full jitter plus the Retry-After cap."""
    retries = settings.ALERT_RETRIES_PER_RUN
    pauses = sum(backoff_seconds(k, jitter=1) for k in range(retries))
    return (
        pauses
        + retries * settings.ALERT_RETRY_AFTER_MAX_SECONDS
        + (retries + 1) * (settings.ALERT_CONNECT_TIMEOUT + settings.ALERT_READ_TIMEOUT)
    )
