"""Tables of cronmonitor: jobs and their heartbeats, ping events, alerts, maintenance windows
and checker runs.

One module per group of tables; everything is importable from `heartbeats.models`, as Django
and the rest of the app expect.
"""

from heartbeats.models.alerts import (
    PROBLEM_KINDS,
    Alert,
    AlertDelivery,
    AlertKind,
    Channel,
    ChannelStatus,
    DeliveryState,
)
from heartbeats.models.events import EventKind, PingEvent
from heartbeats.models.jobs import (
    JOB_NAME_PATTERN,
    STATUS_PATTERN,
    JobHeartbeat,
    Outcome,
    validate_job_name,
    validate_status,
)
from heartbeats.models.maintenance import SILENCE_NAME, MaintenanceWindow
from heartbeats.models.runs import CheckRun, PrunedTotal, RunOutcome

__all__ = [
    "JOB_NAME_PATTERN",
    "PROBLEM_KINDS",
    "SILENCE_NAME",
    "STATUS_PATTERN",
    "Alert",
    "AlertDelivery",
    "AlertKind",
    "Channel",
    "ChannelStatus",
    "CheckRun",
    "DeliveryState",
    "EventKind",
    "JobHeartbeat",
    "MaintenanceWindow",
    "Outcome",
    "PingEvent",
    "PrunedTotal",
    "RunOutcome",
    "validate_job_name",
    "validate_status",
]
