"""Upgrading keeps a silence in force: migration 0011 turns the old single-row silence into the
one "Silence all alerts" window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from heartbeats.domain import silence
from heartbeats.models import MaintenanceWindow
from tests.conftest import T0


@pytest.mark.django_db(transaction=True)
def test_a_silence_in_force_before_the_upgrade_is_the_silence_window_after_it():
    executor = MigrationExecutor(connection)
    executor.migrate([("heartbeats", "0010_job_tags")])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO heartbeats_alertsilence (id, until, updated_at) VALUES (1, %s, %s)",
                [T0 + timedelta(hours=3), T0],
            )
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        window = MaintenanceWindow.objects.get()
        assert (window.silence, window.all_jobs, window.start, window.end) == (
            True, True, T0, T0 + timedelta(hours=3),
        )  # fmt: skip
        assert silence.silenced_until(now=T0 + timedelta(hours=1)) == T0 + timedelta(hours=3)
    finally:
        MaintenanceWindow.objects.all().delete()
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
