"""The operators' dashboard: the runbook's queries as columns and filters, its procedures as
actions (in `admin/actions.py`), and read-only alert history."""

from __future__ import annotations

from functools import partial

from django.contrib import admin
from django.urls import path, reverse_lazy
from django.utils import timezone

from heartbeats.admin import actions as admin_actions
from heartbeats.admin import display, filters, procedure_pages
from heartbeats.admin import recent_pings as admin_pings
from heartbeats.admin.configuration_page import configuration_view
from heartbeats.admin.flip_timeline import FlipTimelineMixin
from heartbeats.admin.forms import JobHeartbeatForm
from heartbeats.alerts import procedures, routing
from heartbeats.domain import durations, silence
from heartbeats.models import JobHeartbeat

admin.site.site_header = "cronmonitor"
admin.site.site_title = "cronmonitor"
admin.site.index_title = "Jobs, alerts and deliveries"
# Django renders the lazy URL like a str; the stubs allow only str or None.
admin.site.site_url = reverse_lazy("summary")  # type: ignore[assignment]
# The app list sidebar would take a quarter of a 1280 px screen from the job list.
admin.site.enable_nav_sidebar = False


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(FlipTimelineMixin, admin.ModelAdmin):
    form = JobHeartbeatForm
    list_display = [
        "name",
        "state",
        "reported_status",
        "last_run",
        "last_alert",
        "alert_state_badge",
    ]
    list_display_links = ["name"]
    list_filter = [
        filters.StateFilter, filters.HealthFilter, filters.AlertStateFilter,
        filters.LastAlertFilter, filters.TagFilter, filters.MaintenanceFilter, "status", "paused",
    ]  # fmt: skip
    search_fields = ["job_name", "tags"]
    ordering = ["last_run_at"]
    list_per_page = 100
    actions = [
        admin_actions.reset_alert_timestamp,
        admin_actions.force_alert,
        procedure_pages.silence_all_alerts,
        procedure_pages.bulk_recover_stale,
        admin_actions.pause_jobs,
        admin_actions.resume_jobs,
    ]
    change_list_template = "admin/heartbeats/jobheartbeat/change_list.html"
    identity_fields = ["job_name", "display_name", "status", "paused", "tags", "desc"]
    schedule_fields = ["period", "cron", "tz", "grace"]
    ping_fields = ["methods", "filter_body", "failure_kw", "success_kw", "start_kw",
                   "manual_resume"]  # fmt: skip
    heartbeat_fields = [
        "state", "last_run", "outcome", "n_runs", "last_run_duration", "due",
        "alert_state_badge", "last_alert", "alert_history", "pretty_metadata",
    ]  # fmt: skip
    readonly_fields = [
        "uuid", *heartbeat_fields, "schedule_in_words", "upcoming_runs", "alert_routes",
        "ping_instructions", "recent_pings", "flip_timeline",
    ]  # fmt: skip

    def get_queryset(self, request):
        return display.listed(super().get_queryset(request), now=timezone.now())

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": self.identity_fields}),
                ("Schedule", {"fields": self.schedule_fields}),
                ("Pings", {"fields": self.ping_fields}),
                ("Alert channels", {"fields": ["channels", "no_channels"]}),
            ]
        return [
            (None, {"fields": [*self.identity_fields[:2], "uuid", *self.identity_fields[2:]]}),
            ("Schedule", {"fields": [*self.schedule_fields, "schedule_in_words", "upcoming_runs"]}),
            ("Pings", {"fields": self.ping_fields}),
            ("Heartbeat and alerts", {"fields": self.heartbeat_fields}),
            ("Alert channels", {"fields": ["channels", "no_channels", "alert_routes"]}),
            ("How to ping", {"fields": ["ping_instructions"]}),
            ("Last pings", {"fields": ["recent_pings"]}),
            ("Up and down", {"fields": ["flip_timeline"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "job_name"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        save = procedures.save_job_edits if change else procedures.add_job
        fields = form.changed_data if change else list(form.fields)
        # The named channels are a link table: the admin's save_related writes them.
        save(obj, fields=[f for f in fields if f != "channels"], now=timezone.now())

    def has_silence_all_alerts_permission(self, request) -> bool:
        return request.user.has_perm("heartbeats.silence_all_alerts")

    def has_bulk_recover_jobs_permission(self, request) -> bool:
        return request.user.has_perm("heartbeats.bulk_recover_jobs")

    def get_urls(self):
        def route(slug: str, view, name: str, **kwargs):
            name = f"heartbeats_jobheartbeat_{name}"
            return path(
                slug,
                self.admin_site.admin_view(partial(view, modeladmin=self, **kwargs)),
                name=name,
            )

        procedure_view = procedure_pages.procedure_view
        return [
            route("run-check/", admin_actions.run_check_view, "run_check"),
            route("test-alert/", admin_actions.test_alert_view, "test_alert"),
            route("configuration/", configuration_view, "configuration"),
            route(
                "silence-all/", procedure_view, "silence_all", procedure=procedure_pages.SILENCE_ALL
            ),
            route("unsilence/", procedure_pages.unsilence_view, "unsilence"),
            route(
                "bulk-recover/",
                procedure_view,
                "bulk_recover",
                procedure=procedure_pages.BULK_RECOVER,
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        now = timezone.now()
        silenced_until = silence.silenced_until(now=now)
        extra_context = {
            **(extra_context or {}),
            "can_change_jobs": self.has_change_permission(request),
            "can_silence_all": self.has_silence_all_alerts_permission(request),
            "can_bulk_recover": self.has_bulk_recover_jobs_permission(request),
            "silenced_until": silenced_until,
            "silence_notice": silence.silence_notice(silenced_until, now=now),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="job name", ordering="job_name")
    def name(self, job: JobHeartbeat) -> str:
        return display.breakable_name(job.job_name)

    @admin.display(description="state", ordering="job_state")
    def state(self, job: display.ListedJob) -> str:
        return display.state_cell(job, now=timezone.now())

    @admin.display(description="reported status", ordering="status")
    def reported_status(self, job: JobHeartbeat) -> str:
        return job.status if job.n_runs else durations.NO_VALUE  # the default is no report

    @admin.display(description="last run", ordering="last_run_at")
    def last_run(self, job: JobHeartbeat) -> str:
        if job.n_runs == 0:  # last_run_at is then only when the job was created
            return f"Never (created {durations.moment(job.created_at)})"
        return durations.moment_and_age(job.last_run_at, now=timezone.now())

    @admin.display(description="last outcome")
    def outcome(self, job: JobHeartbeat) -> str:
        return job.get_last_outcome_display() if job.n_runs else "-"

    @admin.display(description="last run took")
    def last_run_duration(self, job: JobHeartbeat) -> str:
        return durations.duration(job.last_duration)

    @admin.display(description="last alert", ordering="last_alert_at")
    def last_alert(self, job: JobHeartbeat) -> str:
        if job.last_alert_at is None:
            return "Never"
        return durations.moment_and_age(job.last_alert_at, now=timezone.now())

    @admin.display(description="alert state", ordering="alert_state")
    def alert_state_badge(self, job: display.ListedJob) -> str:
        return display.alert_state_badge(job, now=timezone.now())

    @admin.display(description="due at")
    def due(self, job: JobHeartbeat) -> str:
        return durations.moment(job.due_at)

    @admin.display(description="metadata")
    def pretty_metadata(self, job: JobHeartbeat) -> str:
        return display.pretty_json(job.metadata)

    @admin.display(description="alert history")
    def alert_history(self, job: JobHeartbeat) -> str:
        return display.alert_history_link(job)

    @admin.display(description="schedule in words")
    def schedule_in_words(self, job: JobHeartbeat) -> str:
        return display.schedule_in_words(job)

    @admin.display(description="next expected runs")
    def upcoming_runs(self, job: JobHeartbeat) -> str:
        return display.upcoming_table(job, now=timezone.now())

    @admin.display(description="ping URLs and examples")
    def ping_instructions(self, job: JobHeartbeat) -> str:
        return display.ping_panel(job)

    @admin.display(description=f"last {admin_pings.RECENT_EVENTS} pings")
    def recent_pings(self, job: JobHeartbeat) -> str:
        return admin_pings.events_table(job)

    @admin.display(description="where its alerts go")
    def alert_routes(self, job: JobHeartbeat) -> str:
        return display.routes_table(routing.job_routes(job))
