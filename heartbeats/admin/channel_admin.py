"""The channels page: channels kept in the database (secrets write-only, shown as set or not),
the environment's channels listed read-only, and a test alert for the chosen channels."""

from __future__ import annotations

import threading

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html_join

from heartbeats.admin import display
from heartbeats.admin.channel_form import SECRET_LABELS, ChannelForm
from heartbeats.alerts import routing, test_alert
from heartbeats.domain import queries
from heartbeats.models import SECRET_FIELDS, Channel
from heartbeats.models.channel_secrets import SecretsUnreadable
from heartbeats.redaction import redact

_page = threading.local()


@admin.action(description="Send a test alert to the selected channels", permissions=["change"])
def send_test_alert(modeladmin, request, queryset) -> None:
    for channel in queryset.order_by("name"):
        (outcome,) = test_alert.send_test_alert(now=timezone.now(), channel=channel.name)
        if outcome.ok:
            modeladmin.message_user(request, f"Test alert delivered on {outcome.channel}.")
        else:
            text = f"Test alert on {outcome.channel} failed: {redact(outcome.error)}"
            modeladmin.message_user(request, text, messages.ERROR)


SETTINGS_FIELDS = ["recipients", "url", "routing_key", "signing_secret", "headers", "secrets_state"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "is_default", "tags", "notifies", "health"]
    list_filter = ["kind", "is_default"]
    search_fields = ["name", "tags"]
    readonly_fields = ["id", "secrets_state"]
    actions = [send_test_alert]
    change_list_template = "admin/heartbeats/channel/change_list.html"
    fieldsets = [
        (None, {"fields": ["name", "kind", "is_default", "tags", "notify_down", "notify_up"]}),
        (
            "Settings",
            {
                "fields": [
                    "recipients",
                    "url",
                    "routing_key",
                    "signing_secret",
                    "headers",
                    "secrets_state",
                ]
            },
        ),
    ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "environment_channels": routing.environment_targets(),
        }
        # Which channels are broken, read once for the page rather than once per row.
        _page.broken = {s.channel: s.broken_since for s in queries.broken_channels()}
        try:
            response = super().changelist_view(request, extra_context)
            if hasattr(response, "render"):
                response.render()
            return response
        finally:
            _page.broken = None

    @admin.display(description="notifies of")
    def notifies(self, channel: Channel) -> str:
        return display.notifies(down=channel.notify_down, up=channel.notify_up)

    @admin.display(description="health")
    def health(self, channel: Channel) -> str:
        broken = getattr(_page, "broken", None)
        if broken is None:  # not on the list page
            broken = {s.channel: s.broken_since for s in queries.broken_channels()}
        since = broken.get(channel.key)
        return f"broken since {since:%Y-%m-%d %H:%M} UTC" if since else "ok"

    @admin.display(description="saved secrets")
    def secrets_state(self, channel: Channel) -> str:
        if not channel.pk:
            return "-"
        try:
            saved = channel.read_secrets()
        except SecretsUnreadable as exc:
            return str(exc)
        rows = [
            (SECRET_LABELS[field], "•••••••• (set)" if saved.get(field) else "not set")
            for field in SECRET_FIELDS[channel.kind]
        ]
        return format_html_join(", ", "{}: {}", rows) or "none for this kind"
