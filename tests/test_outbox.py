"""The outbox's durable steps on their own: claiming under a lease, renewing, releasing,
recording one message's result and closing what it settles."""

from __future__ import annotations

import pytest

from heartbeats import outbox
from heartbeats.models import AlertDelivery
from tests.conftest import T0

pytestmark = pytest.mark.django_db


def test_a_released_delivery_is_due_again_with_its_attempt_uncounted(make_job, make_alert, clock):
    make_alert(make_job(), channels=["slack"])
    batch, lease_until = outbox.claim(now=T0)
    outbox.release(batch, lease_until)
    delivery = AlertDelivery.objects.get()
    assert (delivery.lease_until, delivery.attempts) == (None, 0)
    assert outbox.claim(now=T0)[0] == [delivery]
