"""API keys in the admin: made with a name and a kind, the key shown once on the page that
answers the creation (never stored, never in a message cookie), revoked by an action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import ngettext

from heartbeats.access import keys
from heartbeats.domain import durations
from heartbeats.models import ApiKey


@admin.action(description="Revoke selected API keys", permissions=["change"])
def revoke_keys(modeladmin, request, queryset) -> None:
    count = keys.revoke(queryset, now=timezone.now())
    message = ngettext("Revoked %(count)d API key.", "Revoked %(count)d API keys.", count)
    modeladmin.message_user(request, message % {"count": count}, messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "read_only", "created", "last_used", "revoked"]
    list_filter = ["read_only"]
    actions = [revoke_keys]
    fields = ["name", "read_only"]

    def get_readonly_fields(self, request, obj=None):
        return ["name", "read_only", "prefix"] if obj is not None else []

    def get_fields(self, request, obj=None):
        return ["name", "read_only", "prefix"] if obj is not None else self.fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_at = timezone.now()
            request._new_api_key = keys.attach_new_key(obj)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": f"API key {obj.name!r} created",
            "key": request._new_api_key,
            "record": obj,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/heartbeats/apikey/created.html", context)

    @admin.display(description="created", ordering="created_at")
    def created(self, key: ApiKey) -> str:
        return durations.moment(key.created_at)

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, key: ApiKey) -> str:
        return durations.moment(key.last_used_at) if key.last_used_at else "never"

    @admin.display(description="revoked", ordering="revoked_at")
    def revoked(self, key: ApiKey) -> str:
        return durations.moment(key.revoked_at) if key.revoked_at else "-"
