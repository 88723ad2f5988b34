"""The runbook's database diagnostics for the configuration page: index usage and the slowest
statements (PostgreSQL's statistics views; empty or refused elsewhere)."""

from __future__ import annotations

from django.db import DatabaseError, connection, transaction

from heartbeats.models import JobHeartbeat


def _dict_rows(sql: str, params: list) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def index_usage(table: str = JobHeartbeat._meta.db_table) -> list[dict]:
    """The runbook's "Index optimization": scans and tuples read per index of `table`.

    PostgreSQL only; an empty list elsewhere.
    """
    if connection.vendor != "postgresql":
        return []
    return _dict_rows(
        "SELECT indexrelname AS index_name, idx_scan, idx_tup_read, idx_tup_fetch "
        "FROM pg_stat_user_indexes WHERE relname = %s ORDER BY indexrelname",
        [table],
    )


class StatementsUnavailable(Exception):
    """pg_stat_statements cannot be read here; the message says why, for the operator."""


def slow_statements(table: str = JobHeartbeat._meta.db_table, limit: int = 10) -> list[dict]:
    """The runbook's "Query performance": the costliest statements that mention `table`.

    Raises StatementsUnavailable on SQLite, when the extension is not installed in this
    database, or when the server was not started with it in shared_preload_libraries.
    """
    if connection.vendor != "postgresql":
        raise StatementsUnavailable("pg_stat_statements exists only on PostgreSQL.")
    installed = _dict_rows(
        "SELECT 1 AS present FROM pg_extension WHERE extname = 'pg_stat_statements'", []
    )
    if not installed:
        raise StatementsUnavailable(
            "The pg_stat_statements extension is not installed in this database "
            "(CREATE EXTENSION pg_stat_statements, with it in shared_preload_libraries)."
        )
    try:
        with transaction.atomic():
            return _dict_rows(
                "SELECT query, calls, total_exec_time, mean_exec_time, rows "
                "FROM pg_stat_statements WHERE query LIKE %s "
                "ORDER BY total_exec_time DESC LIMIT %s",
                [f"%{table}%", limit],
            )
    except DatabaseError as exc:
        raise StatementsUnavailable(f"pg_stat_statements cannot be read: {exc}") from None
