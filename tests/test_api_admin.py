"""API keys and flips in the admin: a key made there is shown once and stored hashed, keys are
revoked by an action, and the job page shows its flips with the uptime per window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from heartbeats.access import keys
from heartbeats.admin.flip_timeline import uptimes
from heartbeats.models import ApiKey, Flip
from tests.conftest import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456789")
    client.force_login(user)
    return client


def test_a_key_made_in_the_admin_is_shown_once_and_stored_hashed(superuser):
    response = superuser.post(
        "/admin/heartbeats/apikey/add/", {"name": "dashboard", "read_only": "on"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    key = page.split('<code id="api-key" style="font-size:1.2em;user-select:all">')[1].split("<")[0]
    record = ApiKey.objects.get()
    assert keys.find(key) == record and record.read_only
    listing = superuser.get("/admin/heartbeats/apikey/").content.decode()
    assert "dashboard" in listing and key not in listing
    change = superuser.get(f"/admin/heartbeats/apikey/{record.pk}/change/").content.decode()
    assert key not in change and record.prefix in change


def test_revoking_keys_from_the_admin(superuser):
    key = keys.issue(name="old", read_only=False, now=T0).key
    superuser.post(
        "/admin/heartbeats/apikey/",
        {"action": "revoke_keys", "_selected_action": [ApiKey.objects.get().pk]},
    )
    assert keys.find(key) is None
    assert superuser.get("/api/v3/checks/", HTTP_X_API_KEY=key).json() == {"error": "wrong api key"}


def test_uptime_per_window_from_flips(make_job):
    now = T0 + timedelta(days=40)
    job = make_job("backup", now=T0)
    # Down for 6 hours a day ago, and for a whole day 20 days ago.
    for start, hours in [(now - timedelta(hours=12), 6), (now - timedelta(days=20), 24)]:
        Flip.objects.create(job=job, created_at=start, old_status="up", new_status="down")
        Flip.objects.create(
            job=job, created_at=start + timedelta(hours=hours), old_status="down", new_status="up"
        )
    shares = dict(uptimes(job, now=now))
    assert shares["24 h"] == pytest.approx(1 - 6 / 24)
    assert shares["7 d"] == pytest.approx(1 - 6 / (7 * 24))
    assert shares["30 d"] == pytest.approx(1 - 30 / (30 * 24))


def test_a_job_down_since_before_the_window_is_down_all_of_it(make_job):
    job = make_job("backup", now=T0)
    Flip.objects.create(job=job, created_at=T0, old_status="up", new_status="down")
    shares = dict(uptimes(job, now=T0 + timedelta(days=60)))
    assert shares == {"24 h": 0.0, "7 d": 0.0, "30 d": 0.0}


def test_the_job_page_shows_the_timeline(superuser, make_job):
    job = make_job("backup")
    Flip.objects.create(
        job=job,
        created_at=T0,
        old_status="up",
        new_status="down",
        reason="the checker found it down",
    )
    page = superuser.get(f"/admin/heartbeats/jobheartbeat/{job.pk}/change/").content.decode()
    assert "Up and down" in page and "the checker found it down" in page
    assert "Uptime 24 h: <strong>" in page
