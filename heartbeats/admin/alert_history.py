"""The read-only alert history: alerts and their deliveries, channels shown by name."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from heartbeats.admin import display
from heartbeats.admin.channel_labels import (
    AlertChannelFilter,
    ChannelFilter,
    ChannelLabelsMixin,
    channel_label,
)
from heartbeats.domain import durations, links
from heartbeats.models import Alert, AlertDelivery


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the checker only; the admin shows it."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _job_link(job_name: str | None) -> str:
    if job_name is None:
        return "(cronmonitor)"
    return format_html('<a href="{}">{}</a>', links.job_admin_path(job_name), job_name)


@admin.register(Alert)
class AlertAdmin(ChannelLabelsMixin, ReadOnlyAdmin):
    list_display = ["created", "job_link", "kind", "trigger", "done", "deliveries_summary"]
    list_filter = [
        "kind",
        AlertChannelFilter,
        ("deliveries__state", admin.ChoicesFieldListFilter),
        "done",
        "trigger",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["job__job_name"]
    date_hierarchy = "created_at"
    readonly_fields = ["pretty_details"]
    exclude = ["details"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("deliveries")

    @admin.display(description="created", ordering="created_at")
    def created(self, alert: Alert) -> str:
        return durations.moment_and_age(alert.created_at, now=timezone.now())

    @admin.display(description="job", ordering="job")
    def job_link(self, alert: Alert) -> str:
        return _job_link(alert.job_id)

    @admin.display(description="deliveries")
    def deliveries_summary(self, alert: Alert) -> str:
        return format_html_join(
            ", ", "{}: {}", ((channel_label(d.channel), d.state) for d in alert.deliveries.all())
        )

    @admin.display(description="details")
    def pretty_details(self, alert: Alert) -> str:
        return display.pretty_json(alert.details)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ChannelLabelsMixin, ReadOnlyAdmin):
    list_display = [
        "created", "job_link", "alert_kind", "channel_name", "state", "attempts", "sent",
    ]  # fmt: skip
    list_filter = [ChannelFilter, "state", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["alert"]
    search_fields = ["alert__job__job_name"]

    @admin.display(description="created", ordering="created_at")
    def created(self, delivery: AlertDelivery) -> str:
        return durations.moment_and_age(delivery.created_at, now=timezone.now())

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, delivery: AlertDelivery) -> str:
        return durations.moment_and_age(delivery.sent_at, now=timezone.now())

    @admin.display(description="job", ordering="alert__job")
    def job_link(self, delivery: AlertDelivery) -> str:
        return _job_link(delivery.alert.job_id)

    @admin.display(description="kind", ordering="alert__kind")
    def alert_kind(self, delivery: AlertDelivery) -> str:
        return delivery.alert.get_kind_display()

    @admin.display(description="channel", ordering="channel")
    def channel_name(self, delivery: AlertDelivery) -> str:
        return channel_label(delivery.channel)
