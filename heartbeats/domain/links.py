"""Where a job is shown: its admin page, the one address every link to a job uses (the summary,
/summary.json, alert messages, the admin's alert and delivery lists)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin.utils import quote as admin_quote
from django.urls import reverse


def job_admin_path(job_name: str) -> str:
    """The job's admin page; the admin's own quoting first ("_24" in a name must survive)."""
    return reverse("admin:heartbeats_jobheartbeat_change", args=[admin_quote(job_name)])


def job_admin_url(job_name: str) -> str:
    """`job_admin_path` under SITE_URL, for messages read outside the site."""
    return settings.SITE_URL + job_admin_path(job_name)
