"""Where alerts go. A target is a channel as delivery sees it: one from the environment
(read-only, default, keyed "slack" or "email") or a `Channel` row (keyed by its id), secrets
decrypted. A job's channels are those it names, plus those attached to one of its tags, or
else the default ones; none at all for a job set to alert no channel (`no_channels`). `plan`
resolves that for a whole pass in two queries whatever the number of jobs and channels (the
channels, and the named ones of the pass's jobs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings

from heartbeats.domain import policy
from heartbeats.models import (
    ENV_EMAIL,
    ENV_SLACK,
    Alert,
    AlertKind,
    Channel,
    ChannelKind,
    JobHeartbeat,
)
from heartbeats.models.channel_secrets import SecretsUnreadable

EXPLICIT = "explicit"
DEFAULT = "default"


@dataclass(frozen=True)
class Target:
    key: str  # AlertDelivery.channel's value
    name: str
    kind: str
    notify_down: bool = True
    notify_up: bool = True
    is_default: bool = True
    tags: tuple[str, ...] = ()
    from_environment: bool = False
    config: dict = field(default_factory=dict, compare=False)
    secrets: dict = field(default_factory=dict, repr=False, compare=False)
    unreadable: str = ""  # why its secrets could not be decrypted

    def notifies(self, alert_kind: str) -> bool:
        return self.notify_up if alert_kind == AlertKind.RECOVERY else self.notify_down


def environment_targets() -> list[Target]:
    """SLACK_WEBHOOK_URL and RESEND_*/ALERT_EMAIL_TO, when set: default channels never stored."""
    targets = []
    for key in policy.configured_channels():
        if key == ENV_SLACK:
            secrets = {"url": settings.SLACK_WEBHOOK_URL}
            targets.append(Target(ENV_SLACK, ENV_SLACK, ChannelKind.SLACK, secrets=secrets,
                                  from_environment=True))  # fmt: skip
        elif key == ENV_EMAIL:
            config = {"recipients": list(settings.ALERT_EMAIL_TO)}
            targets.append(Target(ENV_EMAIL, ENV_EMAIL, ChannelKind.EMAIL, config=config,
                                  from_environment=True))  # fmt: skip
    return targets


def target_of(channel: Channel) -> Target:
    try:
        secrets, unreadable = channel.read_secrets(), ""
    except SecretsUnreadable as exc:
        secrets, unreadable = {}, str(exc)
    return Target(
        key=channel.key,
        name=channel.name,
        kind=channel.kind,
        notify_down=channel.notify_down,
        notify_up=channel.notify_up,
        is_default=channel.is_default,
        tags=tuple(channel.tags.split()),
        config=channel.config,
        secrets=secrets,
        unreadable=unreadable,
    )


def load_targets() -> dict[str, Target]:
    """Every channel by key, those from the environment first: one query."""
    targets = environment_targets() + [target_of(c) for c in Channel.objects.order_by("name")]
    return {t.key: t for t in targets}


def routes(
    job_tags: str, explicit: set[str], targets: Iterable[Target]
) -> list[tuple[Target, str]]:
    """A job's channels and why: named ("explicit"), by a tag ("via tag T"), else "default"."""
    tags = set(job_tags.split())
    chosen: list[tuple[Target, str]] = []
    targets = list(targets)
    for target in targets:
        if target.key in explicit:
            chosen.append((target, EXPLICIT))
        elif matched := [tag for tag in target.tags if tag in tags]:
            chosen.append((target, f"via tag {matched[0]}"))
    return chosen or [(t, DEFAULT) for t in targets if t.is_default]


def explicit_channels(job_names: Iterable[str]) -> dict[str, set[str]]:
    """The channels each job names: one query over the link table."""
    links = JobHeartbeat.channels.through.objects.filter(jobheartbeat_id__in=list(job_names))
    named: dict[str, set[str]] = defaultdict(set)
    for job_name, channel_id in links.values_list("jobheartbeat_id", "channel_id"):
        named[job_name].add(str(channel_id))
    return named


def plan(
    alerts: Sequence[Alert], targets: dict[str, Target], *, broken: set[str]
) -> dict[Alert, list[str]]:
    """The channel keys each alert is delivered on: its job's channels that notify of its kind
    and are not broken; a notice about no job (an outage) goes to the default channels."""
    explicit = explicit_channels({a.job_id for a in alerts if a.job_id})
    planned: dict[Alert, list[str]] = {}
    for alert in alerts:
        if alert.job is None:
            chosen = [t for t in targets.values() if t.is_default]
        elif alert.job.no_channels:
            chosen = []
        else:
            named = explicit.get(alert.job.job_name, set())
            chosen = [t for t, _ in routes(alert.job.tags, named, targets.values())]
        planned[alert] = [t.key for t in chosen if t.notifies(alert.kind) and t.key not in broken]
    return planned


def job_routes(job: JobHeartbeat) -> list[tuple[Target, str]]:
    """Where this job's alerts go and why, for its admin page."""
    if job.no_channels:
        return []
    return routes(job.tags, explicit_channels([job.job_name]).get(job.job_name, set()),
                  load_targets().values())  # fmt: skip
