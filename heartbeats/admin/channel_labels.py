"""Channel keys (a delivery's "slack", "email" or a channel's id) as people read them, with
the names looked up once per admin page rather than once per row."""

from __future__ import annotations

import threading

from django.contrib import admin

from heartbeats.models import ENV_EMAIL, ENV_SLACK, Channel

ENV_LABELS = {ENV_SLACK: "Slack", ENV_EMAIL: "Email"}
_page = threading.local()


def channel_label(key: str) -> str:
    if key in ENV_LABELS:
        return ENV_LABELS[key]
    names = getattr(_page, "names", None)
    if names is None:
        names = {str(c_id): name for c_id, name in Channel.objects.values_list("id", "name")}
    return names.get(key, f"deleted channel {key[:8]}")


class ChannelLabelsMixin:
    """Loads every channel's name once while a list page renders."""

    def changelist_view(self, request, extra_context=None):
        _page.names = {str(c_id): name for c_id, name in Channel.objects.values_list("id", "name")}
        try:
            response = super().changelist_view(request, extra_context)  # type: ignore[misc]
            if hasattr(response, "render"):
                response.render()
            return response
        finally:
            _page.names = None


class ChannelFilter(admin.SimpleListFilter):
    """Deliveries (or alerts, through `field`) by channel, listed by name."""

    title = "channel"
    parameter_name = "channel"
    field = "channel"

    def lookups(self, request, model_admin):
        rows = Channel.objects.order_by("name").values_list("id", "name")
        return [*ENV_LABELS.items(), *((str(c_id), name) for c_id, name in rows)]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(**{self.field: self.value()}).distinct()


class AlertChannelFilter(ChannelFilter):
    parameter_name = field = "deliveries__channel"
