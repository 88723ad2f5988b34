"""Channels as the API shows and writes them: the environment's (read-only, ids `slack` and
`email`) and the stored ones (UUIDs). Secrets are write-only: an answer says which are set
(`url_set`, ...), never what they are."""

from __future__ import annotations

from typing import Any

from heartbeats.alerts import routing
from heartbeats.api.channel_schemas import ChannelSpec
from heartbeats.api.writes import SpecError, normalized_tags
from heartbeats.models import ENV_CHANNELS, SECRET_FIELDS, Channel, ChannelKind
from heartbeats.models.channel_secrets import SecretsUnreadable

# The API's setting, the kinds it applies to, and the secret it is stored as ("" = config).
SETTINGS = {
    "url": ((ChannelKind.SLACK, ChannelKind.WEBHOOK, ChannelKind.MSTEAMS), "url"),
    "to": ((ChannelKind.EMAIL,), ""),
    "routing_key": ((ChannelKind.PAGERDUTY,), "routing_key"),
    "secret": ((ChannelKind.WEBHOOK,), "signing_secret"),
    "headers": ((ChannelKind.WEBHOOK,), "headers"),
}
REQUIRED = {ChannelKind.SLACK: "url", ChannelKind.WEBHOOK: "url", ChannelKind.MSTEAMS: "url",
            ChannelKind.PAGERDUTY: "routing_key", ChannelKind.EMAIL: "to"}  # fmt: skip
NOTIFY = {(True, True): "both", (True, False): "down", (False, True): "up", (False, False): "none"}


def _shown(target: routing.Target) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": target.key,
        "name": target.name,
        "kind": target.kind,
        "notify": NOTIFY[(target.notify_down, target.notify_up)],
        "default": target.is_default,
        "tags": " ".join(target.tags),
        "read_only": target.from_environment,
    }
    for setting, (kinds, secret) in SETTINGS.items():
        if target.kind in kinds:
            if secret:
                shown[f"{setting}_set"] = bool(target.secrets.get(secret))
            else:
                shown[setting] = list(target.config.get("recipients", []))
    return shown


def environment() -> dict[str, dict[str, Any]]:
    return {t.key: _shown(t) for t in routing.environment_targets()}


def to_dict(channel: Channel) -> dict[str, Any]:
    return _shown(routing.target_of(channel))


def listed() -> list[dict[str, Any]]:
    stored = [to_dict(channel) for channel in Channel.objects.order_by("name")]
    return [*environment().values(), *stored]


def _kept_secrets(channel: Channel, kind: str) -> dict:
    if channel._state.adding or channel.kind != kind:
        return {}
    try:
        kept = channel.read_secrets()
    except SecretsUnreadable:
        return {}  # unreadable: the secrets have to be given again
    return {k: v for k, v in kept.items() if k in SECRET_FIELDS[kind]}


def _check_name(channel: Channel, name: str) -> str:
    name = name.strip()
    if not name:
        raise SpecError("json validation error: name is empty")
    if name.lower() in ENV_CHANNELS:
        raise SpecError(f"{name!r} names a channel from the environment")
    if Channel.objects.filter(name=name).exclude(pk=channel.pk).exists():
        raise SpecError(f"a channel named {name!r} already exists", 409)
    return name


def save(channel: Channel, spec: ChannelSpec) -> Channel:
    """Create (a new `channel`) or change it from `spec`; given settings replace the saved
    ones, an empty string clears a secret, a new kind starts from no settings."""
    if channel._state.adding and (spec.name is None or spec.kind is None):
        raise SpecError("json validation error: a new channel needs a name and a kind")
    kind = spec.kind or channel.kind
    for setting, (kinds, _) in SETTINGS.items():
        if getattr(spec, setting) is not None and kind not in kinds:
            raise SpecError(f"json validation error: {setting} does not apply to a {kind} channel")
    secrets = _kept_secrets(channel, kind)
    for setting, (_, secret) in SETTINGS.items():
        if secret and (value := getattr(spec, setting)) is not None:
            secrets[secret] = value
    recipients = channel.config.get("recipients", []) if channel.kind == kind else []
    if spec.to is not None:
        recipients = spec.to
    missing = REQUIRED[ChannelKind(kind)]
    if not (recipients if kind == ChannelKind.EMAIL else secrets.get(missing)):
        raise SpecError(f"json validation error: a {kind} channel needs {missing}")
    if spec.name is not None:
        channel.name = _check_name(channel, spec.name)
    if spec.tags is not None:
        channel.tags = normalized_tags(spec.tags)
    if spec.notify is not None:
        channel.notify_down = spec.notify in ("down", "both")
        channel.notify_up = spec.notify in ("up", "both")
    if spec.default is not None:
        channel.is_default = spec.default
    channel.kind = kind
    channel.config = {"recipients": recipients} if kind == ChannelKind.EMAIL else {}
    channel.set_secrets(secrets)
    channel.save()
    return channel
