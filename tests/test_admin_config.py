"""The configuration page: channels without secrets, thresholds, crontab, last run, PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse

from heartbeats.models import ChannelStatus, CheckRun
from heartbeats.reporting import database_stats
from tests.admin_support import staff_client
from tests.conftest import RESEND_SECRET_KEY, SLACK_SECRET_PATH, T0

URL = "admin:heartbeats_jobheartbeat_configuration"


@pytest.fixture
def viewer(db, clock, make_job):
    make_job("backup")
    return staff_client("view_jobheartbeat")


@pytest.fixture
def fake_crontab(settings, tmp_path):
    """Point CRONTAB_EXECUTABLE at a script that prints `listing` and exits with `status`."""

    def install(listing: str, status: int = 0) -> None:
        script = tmp_path / "crontab"
        script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{listing}\nEOF\nexit {status}\n")
        script.chmod(0o755)
        settings.CRONTAB_EXECUTABLE = str(script)

    return install


def page(client) -> str:
    response = client.get(reverse(URL))
    assert response.status_code == 200
    return response.content.decode()


def test_channels_are_named_but_their_secrets_never_shown(viewer, channels):
    content = page(viewer)
    assert "<th>Slack (from environment)</th><td>configured</td>" in content
    assert "<th>Email (from environment)</th><td>configured</td>" in content
    for secret in (SLACK_SECRET_PATH, RESEND_SECRET_KEY, channels.url_for("/")):
        assert secret not in content


def test_unconfigured_channels_say_so(viewer, no_channels):
    content = page(viewer)
    assert "<th>Slack (from environment)</th><td>not configured</td>" in content
    assert "<th>Email (from environment)</th><td>not configured</td>" in content


def test_thresholds_and_schedule_come_from_settings(viewer, settings):
    settings.STALE_AFTER_HOURS = 12.5
    settings.HEALTHCHECK_SCHEDULE = "*/30 * * * *"
    content = page(viewer)
    assert "12.5 h without a heartbeat (STALE_AFTER_HOURS)" in content
    assert "6 h between alerts (ALERT_SUPPRESSION_HOURS)" in content
    assert "60 min (DEFAULT_GRACE_MINUTES)" in content
    assert "<code>*/30 * * * *</code> (HEALTHCHECK_SCHEDULE)" in content


def test_crontab_line_found_by_the_deployment_marker(viewer, settings, fake_crontab):
    line = (
        f"0 */6 * * * /srv/venv/bin/python manage.py crontab run abc # {settings.CRONTAB_COMMENT}"
    )
    fake_crontab(f"MAILTO=ops\n{line}")
    assert f"installed: <code>{line}</code>" in page(viewer)


def test_crontab_of_another_deployment_does_not_count(viewer, fake_crontab):
    fake_crontab("0 * * * * /other/app # cronmonitor-0123456789ab")
    assert "not installed: no line with this deployment" in page(viewer)


def test_no_crontab_at_all(viewer, fake_crontab):
    fake_crontab("no crontab for root", status=1)
    assert "not installed: no line with this deployment" in page(viewer)


def test_missing_crontab_binary(viewer, settings, tmp_path):
    settings.CRONTAB_EXECUTABLE = str(tmp_path / "no-such-crontab")
    assert f"the crontab binary ({tmp_path / 'no-such-crontab'}) is missing" in page(viewer)


def test_last_check_run_and_its_result(viewer):
    assert "The checker has never run." in page(viewer)
    CheckRun.objects.create(started_at=T0 - timedelta(days=1), outcome="ok", total_jobs=1)
    CheckRun.objects.create(
        started_at=T0 - timedelta(hours=1),
        trigger="manual",
        outcome="failed",
        total_jobs=9,
        stale_jobs=3,
        alerts_sent=1,
        suppressed_alerts=1,
        failed_alerts=1,
        error="Slack said 500",
    )
    # A dry run older versions recorded is no check run: "last run" is the latest counted one.
    CheckRun.objects.create(started_at=T0 - timedelta(minutes=1), dry_run=True, outcome="ok")
    content = page(viewer)
    assert "2026-03-02 11:00 UTC (manual): Failed" in content
    assert "9 jobs, 3 stale, 1 alerts sent, 1 suppressed, 1 failed" in content
    assert "Slack said 500" in content


def test_broken_channels_are_listed_without_secrets(viewer, channels):
    ChannelStatus.objects.create(
        channel="slack",
        broken_since=T0 - timedelta(hours=3),
        last_error=f"404 from {channels.url_for(SLACK_SECRET_PATH)}",
    )
    content = page(viewer)
    table = content[content.index('id="cm-broken"') :].split("</table>")[0]
    assert "<td>Slack</td>" in table
    assert "404 from [redacted]" in table
    assert "SECRET" not in content


def test_no_broken_channel(viewer):
    assert "No channel is marked broken." in page(viewer)


def test_postgres_figures_or_a_plain_sqlite_notice(viewer):
    content = page(viewer)
    if connection.vendor != "postgresql":
        assert "available on PostgreSQL only; this deployment runs on SQLite" in content
        return
    indexes = content[content.index('id="cm-indexes"') :].split("</table>")[0]
    assert "<td>job_heartbeats_pkey</td>" in indexes
    assert "<td>job_failed_idx</td>" in indexes
    statements = ('id="cm-statements-unavailable">Not available: ', 'id="cm-statements"')
    assert any(marker in content for marker in statements)


def test_index_usage_counts_scans_on_postgres(db, make_job, is_postgres):
    make_job("backup")
    rows = {row["index_name"]: row for row in database_stats.index_usage()}
    if not is_postgres:
        assert rows == {}
        return
    assert {"job_heartbeats_pkey", "job_failed_idx", "job_alerted_idx"} <= set(rows)
    assert set(rows["job_heartbeats_pkey"]) == {
        "index_name",
        "idx_scan",
        "idx_tup_read",
        "idx_tup_fetch",
    }


def test_statements_unavailable_says_why(db, is_postgres):
    with pytest.raises(database_stats.StatementsUnavailable) as raised:
        database_stats.slow_statements()
    if not is_postgres:
        assert str(raised.value) == "pg_stat_statements exists only on PostgreSQL."


def test_statements_extension_installed_but_not_preloaded(db, is_postgres):
    if not is_postgres:
        pytest.skip("PostgreSQL only: the extension cannot exist on SQLite")
    with connection.cursor() as cursor:
        cursor.execute("SHOW shared_preload_libraries")
        if "pg_stat_statements" in cursor.fetchone()[0]:
            pytest.skip("this server preloads pg_stat_statements")
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    with pytest.raises(database_stats.StatementsUnavailable, match="cannot be read"):
        database_stats.slow_statements()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_slow_statements_are_shown_when_available(viewer):
    """The real query against a real relation: the extension installed, and its view shadowed
    by a temporary table (searched first) holding known rows, since this shared server cannot
    be restarted to preload pg_stat_statements."""
    if connection.vendor != "postgresql":
        pytest.skip("the statements table is shown on PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cursor.execute(
            "CREATE TEMPORARY TABLE pg_stat_statements (query text, calls bigint, "
            "total_exec_time float8, mean_exec_time float8, rows bigint)"
        )
        cursor.execute(
            "INSERT INTO pg_stat_statements VALUES "
            "('SELECT * FROM job_heartbeats WHERE last_run_at < $1', 12, 340.25, 28.354, 7), "
            "('UPDATE job_heartbeats SET status = $1', 3, 900.5, 300.1667, 3), "
            "('SELECT * FROM auth_user', 99, 5000, 50.5, 1)"
        )
    content = page(viewer)
    table = content[content.index('id="cm-statements"') :].split("</table>")[0]
    assert table.index("UPDATE job_heartbeats") < table.index("SELECT * FROM job_heartbeats")
    assert "<code>SELECT * FROM job_heartbeats WHERE last_run_at &lt; $1</code>" in table
    assert "<td>12</td><td>340.3</td><td>28.35</td><td>7</td>" in table
    assert "auth_user" not in content


def test_configuration_needs_view_permission(db, clock):
    assert staff_client().get(reverse(URL)).status_code == 403


def test_admin_index_links_to_the_configuration(viewer):
    content = viewer.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse(URL)}"' in content
    assert 'href="/admin/heartbeats/jobheartbeat/?health=stale"' in content
