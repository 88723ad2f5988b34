"""The one statement that records a signal on its job: an UPDATE, or with `create` an
INSERT ... ON CONFLICT DO UPDATE, returning the job's row.

With `guarded`, the job's own settings may hold the signal back (its keyword filter, or POST
as its only method): each column then keeps its value when the row says so, and the caller
reads the returned row to classify the signal. A job without those settings is recorded by
this same single statement.
"""

from __future__ import annotations

from django.db import connection

from heartbeats.models import EventKind

FINISHING_KINDS = (EventKind.SUCCESS, EventKind.FAIL)

HELD_SQL = "(job_heartbeats.filter_body OR (job_heartbeats.methods = 'POST' AND %s <> 'POST'))"


def json_param() -> str:
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


def _sets(kind: str) -> list[tuple[str, str, list[str]]]:
    """(column, new value, its parameters) for each column a signal of `kind` changes."""
    sets: list[tuple[str, str, list[str]]] = []
    if kind in FINISHING_KINDS:
        sets += [
            ("last_run_at", "%s", ["now"]),
            ("last_outcome", "%s", ["outcome"]),
            ("n_runs", "job_heartbeats.n_runs + 1", []),
            ("status", "COALESCE(%s, job_heartbeats.status)", ["status"]),
            ("metadata", f"COALESCE({json_param()}, job_heartbeats.metadata)", ["metadata"]),
        ]
        if kind == EventKind.SUCCESS:
            sets.append(("last_success_at", "%s", ["now"]))
    elif kind == EventKind.START:
        sets.append(("last_start_at", "%s", ["now"]))
    return sets


def upsert_sql(
    kind: str, *, create: bool, lookup: str, guarded: bool = False, count: bool = True
) -> tuple[str, list[str]]:
    """The statement for one signal, and the names of its parameters in order."""
    assignments = ["updated_at = %s"]
    names = ["now"]
    if count:
        assignments.append("n_pings = job_heartbeats.n_pings + 1")
    for column, value, value_names in _sets(kind):
        if guarded:
            assignments.append(
                f"{column} = CASE WHEN {HELD_SQL} THEN job_heartbeats.{column} ELSE {value} END"
            )
            names += ["method", *value_names]
        else:
            assignments.append(f"{column} = {value}")
            names += value_names
    # Names match whatever their case, through the unique index on lower(job_name).
    where = "lower(job_name) = lower(%s)" if lookup == "job_name" else f"{lookup} = %s"
    if not create:
        sql = f"UPDATE job_heartbeats SET {', '.join(assignments)} WHERE {where} RETURNING *"
        return sql, [*names, "lookup"]
    columns = (
        "job_name, uuid, last_run_at, status, metadata, created_at, updated_at, last_outcome, "
        "n_runs, paused, alerted, cron, tz, last_start_at, last_success_at, flapping, "
        "recent_incidents, n_pings, tags"
    )
    # An existing job's stored spelling, so the conflict lands on the primary key and updates.
    name = f"COALESCE((SELECT job_name FROM job_heartbeats WHERE {where}), %s)"
    values = (
        f"{name}, %s, %s, %s, {json_param()}, %s, %s, %s, %s, %s, %s, '', 'UTC', %s, %s, %s, "
        "'[]', 1, %s"
    )
    insert_names = [
        "lookup", "lookup", "uuid", "now", "insert_status", "insert_metadata", "now", "now",
        "outcome", "insert_runs", "false", "false", "insert_start", "insert_success", "false",
        "insert_tags",
    ]  # fmt: skip
    sql = (
        f"INSERT INTO job_heartbeats ({columns}) VALUES ({values}) "
        f"ON CONFLICT (job_name) DO UPDATE SET {', '.join(assignments)} RETURNING *"
    )
    return sql, insert_names + names
