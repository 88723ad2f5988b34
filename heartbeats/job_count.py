"""The number of jobs, kept by triggers so a checker pass reads it without scanning the table.

An exact `count(*)` over job_heartbeats grows with the table (25 ms at a million jobs), and the
checker needs the total every pass. PostgreSQL counts per statement through transition tables
(one counter update for a bulk insert or delete, no write for an upsert that updates), into one
of 16 rows chosen by the transaction id: a transaction only ever locks one counter row, and
concurrent job creations rarely share one. SQLite counts per row (no statement triggers, and
one writer). The table is not a model, so `flush` leaves it alone and the triggers empty it
with the jobs.

`install` is idempotent: migration 0004 calls it, and so does every `migrate` afterwards,
because SQLite drops a table's triggers whenever Django rebuilds that table. `repair` corrects
drift (triggers skipped by `session_replication_role = replica` or logical replication).
"""

from __future__ import annotations

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "job_heartbeats_count"
TOTAL_SQL = f"SELECT COALESCE(SUM(jobs), 0) FROM {TABLE}"
SHARDS = 16
TRIGGERS = {
    "postgresql": [
        "job_heartbeats_count_insert",
        "job_heartbeats_count_delete",
        "job_heartbeats_count_truncate",
    ],
    "sqlite": ["job_heartbeats_count_insert", "job_heartbeats_count_delete"],
}

_PG_SHARD = f"mod(pg_current_xact_id()::text::bigint, {SHARDS})::smallint"
_PG_ADD = f"ON CONFLICT (shard) DO UPDATE SET jobs = {TABLE}.jobs + EXCLUDED.jobs"
_SQLITE_ADD = "ON CONFLICT (shard) DO UPDATE SET jobs = jobs + excluded.jobs"


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
        f"SET search_path FROM CURRENT AS $$ BEGIN {body}; RETURN NULL; END $$"
    )


def _pg_trigger(name: str, event: str, function: str) -> str:
    changed = {
        "INSERT": "REFERENCING NEW TABLE AS changed ",
        "DELETE": "REFERENCING OLD TABLE AS changed ",
    }
    return (
        f"CREATE OR REPLACE TRIGGER {name} AFTER {event} ON job_heartbeats "
        f"{changed.get(event, '')}FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )


def _postgres_install() -> list[str]:
    counted = f"INSERT INTO {TABLE} (shard, jobs) SELECT {_PG_SHARD}, {{}} FROM changed "
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (shard smallint PRIMARY KEY, jobs bigint NOT NULL)",
        # CREATE TRIGGER's own lock, taken first: no write between the count and the triggers,
        # and two concurrent installs queue instead of deadlocking on a lock upgrade.
        "LOCK TABLE job_heartbeats IN SHARE ROW EXCLUSIVE MODE",
        _pg_function(
            "job_heartbeats_count_add",
            counted.format("count(*)") + f"HAVING count(*) > 0 {_PG_ADD}",
        ),
        _pg_function(
            "job_heartbeats_count_remove",
            counted.format("-count(*)") + f"HAVING count(*) > 0 {_PG_ADD}",
        ),
        _pg_function("job_heartbeats_count_clear", f"DELETE FROM {TABLE}"),
        _pg_trigger("job_heartbeats_count_insert", "INSERT", "job_heartbeats_count_add"),
        _pg_trigger("job_heartbeats_count_delete", "DELETE", "job_heartbeats_count_remove"),
        _pg_trigger("job_heartbeats_count_truncate", "TRUNCATE", "job_heartbeats_count_clear"),
    ]


def _sqlite_install() -> list[str]:
    def trigger(name: str, event: str, delta: int) -> str:
        return (
            f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON job_heartbeats BEGIN "
            f"INSERT INTO {TABLE} (shard, jobs) VALUES (0, {delta}) {_SQLITE_ADD}; END"
        )

    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (shard integer PRIMARY KEY, jobs integer NOT NULL)",
        trigger("job_heartbeats_count_insert", "INSERT", 1),
        trigger("job_heartbeats_count_delete", "DELETE", -1),
    ]


def installed_triggers(connection: BaseDatabaseWrapper) -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('job_heartbeats')"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                ["job_heartbeats"],
            )
        return {row[0] for row in cursor.fetchall()}


def install(connection: BaseDatabaseWrapper) -> bool:
    """Create the counter and its triggers where missing, and count the jobs then.

    Returns whether anything was missing. On PostgreSQL the jobs table is locked against
    writes meanwhile, so no job is created or deleted between the count and the triggers.
    """
    if set(TRIGGERS[connection.vendor]) <= installed_triggers(connection):
        return False
    statements = _postgres_install() if connection.vendor == "postgresql" else _sqlite_install()
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(f"INSERT INTO {TABLE} (shard, jobs) SELECT 0, count(*) FROM job_heartbeats")
    return True


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for trigger in TRIGGERS[connection.vendor]:
            on = " ON job_heartbeats" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}{on}")
        if connection.vendor == "postgresql":
            for function in ("add", "remove", "clear"):
                cursor.execute(f"DROP FUNCTION IF EXISTS job_heartbeats_count_{function}()")
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def total(connection: BaseDatabaseWrapper) -> int:
    with connection.cursor() as cursor:
        cursor.execute(TOTAL_SQL)
        return int(cursor.fetchone()[0])


def repair(connection: BaseDatabaseWrapper) -> int:
    """Correct the counter by what it is off from `count(*)`; returns that difference.

    The count and the counter are read in one statement, so from one snapshot: jobs created or
    deleted by transactions that commit later are counted by their own triggers, and nothing
    needs locking. Scans the table once, so it runs with the daily retention, not every pass.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT count(*) FROM job_heartbeats) - ({TOTAL_SQL})")
        drift = int(cursor.fetchone()[0])
        if drift:
            shard, add = (
                (_PG_SHARD, _PG_ADD) if connection.vendor == "postgresql" else (0, _SQLITE_ADD)
            )
            cursor.execute(f"INSERT INTO {TABLE} (shard, jobs) VALUES ({shard}, %s) {add}", [drift])
    return drift
