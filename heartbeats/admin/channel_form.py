"""The channel form: settings by kind, secrets write-only (never rendered back, kept when left
blank), checked before they are encrypted."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from heartbeats.domain import tags
from heartbeats.models import ENV_CHANNELS, SECRET_FIELDS, Channel, ChannelKind

REQUIRED_SECRETS = {
    ChannelKind.SLACK: "url",
    ChannelKind.MSTEAMS: "url",
    ChannelKind.WEBHOOK: "url",
    ChannelKind.PAGERDUTY: "routing_key",
}
SECRET_LABELS = {
    "url": "webhook URL",
    "routing_key": "routing key",
    "signing_secret": "signing secret",
    "headers": "extra headers",
}
KEEP = "Write-only: left blank, the saved value is kept."


class NeverRendered(forms.Textarea):
    def format_value(self, value: Any) -> None:
        return None


def _secret(label: str, help_text: str) -> forms.CharField:
    widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
    return forms.CharField(label=label, required=False, widget=widget, strip=True,
                           help_text=f"{help_text} {KEEP}")  # fmt: skip


def parse_headers(text: str) -> dict[str, str]:
    """`Name: value` lines; the error names the line, never its value."""
    headers = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or not value.strip() or " " in name.strip():
            raise ValidationError(f"Header line {number} is not 'Name: value'.")
        if not line.isascii():
            raise ValidationError(f"Header line {number} has characters other than ASCII.")
        headers[name.strip()] = value.strip()
    return headers


class ChannelForm(forms.ModelForm):
    recipients = forms.CharField(
        required=False, help_text="Email: comma-separated addresses (sent through Resend)."
    )
    url = _secret("Webhook URL", "Slack, Teams (Workflows) or webhook: the URL to post to.")
    routing_key = _secret("Routing key", "PagerDuty: the Events API v2 integration key.")
    signing_secret = _secret("Signing secret", "Webhook, optional: signs each request.")
    headers = forms.CharField(
        label="Extra headers", required=False, widget=NeverRendered(attrs={"rows": 3}),
        help_text=f"Webhook, optional: one 'Name: value' per line. {KEEP}",
    )  # fmt: skip

    class Meta:
        model = Channel
        fields = ["name", "kind", "is_default", "tags", "notify_down", "notify_up"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipients"].initial = ", ".join(self.instance.config.get("recipients", []))
        self.secrets: dict = {}

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if name.lower() in ENV_CHANNELS:
            raise ValidationError("'slack' and 'email' name the channels from the environment.")
        return name

    def clean_tags(self) -> str:
        return tags.normalize(self.cleaned_data.get("tags") or "")

    def clean_recipients(self) -> list[str]:
        recipients = [r.strip() for r in self.cleaned_data["recipients"].split(",") if r.strip()]
        for recipient in recipients:
            forms.EmailField().clean(recipient)
        return recipients

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if url:
            try:
                URLValidator(schemes=["http", "https"])(url)
            except ValidationError:
                raise ValidationError("Enter an http:// or https:// URL.") from None
        return url

    def clean_headers(self) -> dict[str, str]:
        return parse_headers(self.cleaned_data["headers"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        kind = cleaned.get("kind")
        if not kind:
            return cleaned
        kept = self.instance.read_secrets() if self.instance.kind == kind else {}
        fields = SECRET_FIELDS[kind]
        self.secrets = {k: v for k, v in kept.items() if k in fields}
        self.secrets.update({k: cleaned[k] for k in fields if cleaned.get(k)})
        required = REQUIRED_SECRETS.get(kind)
        if required and not self.secrets.get(required):
            self.add_error(required, f"A {kind} channel needs its {SECRET_LABELS[required]}.")
        if kind == ChannelKind.EMAIL and not cleaned.get("recipients"):
            self.add_error("recipients", "An email channel needs at least one recipient.")
        return cleaned

    def save(self, commit: bool = True) -> Channel:
        channel = super().save(commit=False)
        recipients = self.cleaned_data.get("recipients") or []
        channel.config = {"recipients": recipients} if channel.kind == ChannelKind.EMAIL else {}
        channel.set_secrets(self.secrets)
        if commit:
            channel.save()
            self.save_m2m()
        return channel
