"""The outbox's durable steps on their own: claiming under a lease, renewing, releasing,
recording one message's result and closing what it settles."""

from __future__ import annotations

from datetime import timedelta

import pytest

from heartbeats import outbox
from heartbeats.models import Alert, AlertDelivery, AlertKind
from tests.conftest import T0

pytestmark = pytest.mark.django_db

M = timedelta(minutes=1)


def pending(job, channel: str = "slack", **fields) -> AlertDelivery:
    alert = Alert.objects.create(job=job, kind=AlertKind.DOWN, created_at=T0 - M)
    return AlertDelivery.objects.create(alert=alert, channel=channel, created_at=T0 - M, **fields)


def test_a_released_delivery_is_due_again_with_its_attempt_uncounted(make_job, clock):
    delivery = pending(make_job())
    batch, lease_until = outbox.claim(now=T0)
    outbox.release(batch, lease_until)
    delivery.refresh_from_db()
    assert (delivery.lease_until, delivery.attempts) == (None, 0)
    assert [d.id for d in outbox.claim(now=T0)[0]] == [delivery.id]
