"""The test alert, the runbook's troubleshooting "Check 2": a clearly marked message on every
channel or on the one named, which also clears a channel's broken mark once it gets through."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from heartbeats.alerts import routing
from heartbeats.alerts.messages import _when, format_notice
from heartbeats.alerts.transports import TRANSPORTS, DeliveryError, Outgoing
from heartbeats.models import ChannelStatus

logger = logging.getLogger(__name__)


class UnknownChannel(LookupError):
    pass


@dataclass(frozen=True)
class ChannelOutcome:
    channel: str  # the channel's name
    ok: bool
    error: str = ""  # what went wrong, without the channel's name
    key: str = ""  # AlertDelivery.channel's value for it


def _send(targets: list[routing.Target], *, now: datetime) -> list[ChannelOutcome]:
    message = format_notice(
        "TEST alert from cronmonitor",
        f"This is a test sent at {_when(now)}. If you can read it, alerts reach this channel. "
        "No job is affected.",
    )
    outcomes = []
    for target in targets:
        try:
            key = f"cronmonitor-test-{now.isoformat()}-{target.key}"
            TRANSPORTS[target.kind].send(target, Outgoing(message, []), idempotency_key=key)
        except DeliveryError as exc:
            logger.warning("Test alert on %s failed: %s", target.name, exc.reason)
            outcomes.append(ChannelOutcome(target.name, False, exc.reason, target.key))
        else:
            outcomes.append(ChannelOutcome(target.name, True, key=target.key))
    return outcomes


def send_test_alert(*, now: datetime, channel: str = "") -> list[ChannelOutcome]:
    """A test message on every channel, or on the one named `channel` (else UnknownChannel);
    a channel that takes it is no longer marked broken."""
    targets = list(routing.load_targets().values())
    if channel:
        targets = [target for target in targets if target.name == channel]
        if not targets:
            raise UnknownChannel(channel)
    outcomes = _send(targets, now=now)
    ChannelStatus.objects.filter(channel__in=[o.key for o in outcomes if o.ok]).update(
        broken_since=None, last_error=""
    )
    return outcomes
