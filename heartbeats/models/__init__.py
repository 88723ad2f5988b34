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
    ChannelStatus,
    DeliveryState,
)
from heartbeats.models.api import ApiKey, ApiRequestCount, Flip, FlipStatus
from heartbeats.models.channels import (
    ENV_CHANNELS,
    ENV_EMAIL,
    ENV_SLACK,
    SECRET_FIELDS,
    Channel,
    ChannelKind,
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
    "ENV_CHANNELS",
    "ENV_EMAIL",
    "ENV_SLACK",
    "JOB_NAME_PATTERN",
    "PROBLEM_KINDS",
    "SECRET_FIELDS",
    "SILENCE_NAME",
    "STATUS_PATTERN",
    "Alert",
    "AlertDelivery",
    "AlertKind",
    "ApiKey",
    "ApiRequestCount",
    "Channel",
    "ChannelKind",
    "ChannelStatus",
    "CheckRun",
    "DeliveryState",
    "EventKind",
    "Flip",
    "FlipStatus",
    "JobHeartbeat",
    "MaintenanceWindow",
    "Outcome",
    "PingEvent",
    "PrunedTotal",
    "RunOutcome",
    "validate_job_name",
    "validate_status",
]
