"""What every benchmark shares: its own database, fast seeding, a local HTTP sink, counters.

Benchmarks delete every job in the database they run on, so they refuse any database whose
name does not start with `cm_bench` (or `test`, for the smoke runs inside the test suite).
"""

from __future__ import annotations

import argparse
import http.server
import importlib.util
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/cm_bench"
ALLOWED_PREFIXES = ("cm_bench", "test")
LOOPBACK_HOSTS = ("", "localhost", "127.0.0.1", "::1")  # "" is a Unix socket or SQLite
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STALE_AGE = timedelta(hours=25)
FRESH_AGE = timedelta(hours=1)


def app_root() -> Path:
    """The checkout whose app is benchmarked: where `cronmonitor` is imported from."""
    spec = importlib.util.find_spec("cronmonitor")
    assert spec is not None and spec.origin is not None, "cronmonitor is not importable"
    return Path(spec.origin).resolve().parent.parent


def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE))
    p.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    return p


def database_name(url: str) -> str:
    path = urlsplit(url).path
    return Path(path).name if url.startswith("sqlite") else path.lstrip("/")


def bench_environ(url: str) -> dict[str, str]:
    """The environment for the app under benchmark: this database, never a developer's .env."""
    name = database_name(url)
    if not name.startswith(ALLOWED_PREFIXES):
        sys.exit(f"refusing {name!r}: benchmarks delete every job; use a cm_bench* database")
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        sys.exit(f"refusing host {host!r}: benchmarks run on loopback only")
    return {
        "DEBUG": "true",  # settings import as in development; setup_django turns DEBUG off
        **os.environ,
        "DATABASE_URL": url,
        "CRONMONITOR_ENV_FILE": "/dev/null",
        "DJANGO_SETTINGS_MODULE": "cronmonitor.settings",
    }


def setup_django(url: str) -> None:
    """Point this process at the benchmark database (created if missing), migrated, DEBUG off."""
    os.environ.update(bench_environ(url))
    if url.startswith("postgres"):
        _create_database(url)
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.DEBUG = False  # as in production; DEBUG keeps every statement's SQL in memory
    call_command("migrate", verbosity=0)


def _create_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin_url = parts._replace(path="/postgres").geturl()
    name = database_name(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def is_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def truncate_all() -> None:
    """Empty the app's tables in one statement on PostgreSQL (the ORM would load every row)."""
    from django.apps import apps
    from django.db import connection

    tables = [m._meta.db_table for m in apps.get_app_config("heartbeats").get_models()]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in reversed(tables):  # children before parents
                cursor.execute(f"DELETE FROM {table}")


def job_name_sql(i: str, *, postgres: bool = True) -> str:
    """The name of job number `i`; on PostgreSQL its uuid is md5(name), so pgbench finds it."""
    if postgres:
        return f"'bench-' || lpad(({i})::text, 7, '0')"
    return f"'bench-' || substr('0000000' || ({i}), -7, 7)"


def seed_jobs(count: int, *, now: datetime = NOW) -> None:
    """Insert `count` healthy jobs in one INSERT ... SELECT, on either database."""
    from django.db import connection

    ops = connection.ops
    fresh = ops.adapt_datetimefield_value(now - FRESH_AGE)
    created = ops.adapt_datetimefield_value(now - timedelta(days=30))
    columns = (
        "job_name, uuid, last_run_at, status, metadata, created_at, updated_at, last_outcome, "
        "n_runs, paused, alerted, cron, tz"
    )
    if connection.vendor == "postgresql":
        name = job_name_sql("i")
        sql = (
            f"INSERT INTO job_heartbeats ({columns}) SELECT {name}, md5({name})::uuid, %s, "
            "'healthy', '{}'::jsonb, %s, %s, 'success', 1, false, false, '', 'UTC' "
            "FROM generate_series(1, %s) AS i"
        )
    else:
        name = job_name_sql("i", postgres=False)
        sql = (
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < %s) "
            f"INSERT INTO job_heartbeats ({columns}) SELECT {name}, lower(hex(randomblob(16))), "
            "%s, 'healthy', '{}', %s, %s, 'success', 1, 0, 0, '', 'UTC' FROM seq"
        )
    params = (
        [fresh, created, fresh, count]
        if connection.vendor == "postgresql"
        else [
            count,
            fresh,
            created,
            fresh,
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    analyze()


def make_stale(every: int, *, now: datetime = NOW) -> int:
    """Make every `every`-th job stale (its last heartbeat 25 h old); returns how many."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE job_heartbeats SET last_run_at = %s WHERE job_name LIKE 'bench-%%' "
            "AND CAST(substr(job_name, 7) AS INTEGER) %% %s = 0",
            [connection.ops.adapt_datetimefield_value(now - STALE_AGE), every],
        )
        count = cursor.rowcount
    analyze()
    return count


def analyze() -> None:
    """Fresh planner statistics and visibility map, as autovacuum leaves a settled table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


@dataclass
class QueryCounter:
    """Counts statements and the time spent waiting on the database, via execute_wrapper."""

    queries: int = 0
    db_seconds: float = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries += 1
            self.db_seconds += time.perf_counter() - started


@contextmanager
def counting() -> Iterator[QueryCounter]:
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


class SinkServer(http.server.ThreadingHTTPServer):
    received = 0


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    server: SinkServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"id": "bench"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.received += 1

    def log_message(self, format: str, *args) -> None:
        return


@contextmanager
def http_sink() -> Iterator[SinkServer]:
    """A local HTTP server that accepts every alert (Slack and Resend alike) and counts them."""
    server = SinkServer(("127.0.0.1", 0), _SinkHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def channels_to(server: http.server.ThreadingHTTPServer) -> None:
    """Both channels on, pointed at the sink; no pacing, no in-run retries."""
    from django.conf import settings

    base = f"http://127.0.0.1:{server.server_address[1]}"
    settings.SLACK_WEBHOOK_URL = f"{base}/slack"
    settings.RESEND_API_KEY = "re_bench"
    settings.RESEND_FROM = "bench@example.com"
    settings.ALERT_EMAIL_TO = ["ops@example.com"]
    settings.RESEND_API_URL = f"{base}/resend"
    settings.ALERT_THROTTLE = False
    settings.ALERT_RETRIES_PER_RUN = 0


def median_seconds(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A Markdown table, so results paste straight into the README."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def seed_alert_history(count: int, *, jobs: int, now: datetime = NOW) -> None:
    """`count` finished alerts spread over the jobs, each with one sent Slack delivery."""
    from django.db import connection

    when = connection.ops.adapt_datetimefield_value(now)
    if connection.vendor == "postgresql":
        name = job_name_sql(f"i % {jobs} + 1")
        alerts = (
            "INSERT INTO heartbeats_alert (id, job_id, kind, created_at, trigger, details, done) "
            f"SELECT gen_random_uuid(), {name}, (ARRAY['down', 'failed', 'hung'])[i % 3 + 1], "
            "%s::timestamptz - i * interval '1 minute', 'cron', '{}'::jsonb, true "
            "FROM generate_series(1, %s) AS i"
        )
        params = [when, count]
    else:
        name = job_name_sql(f"i % {jobs} + 1", postgres=False)
        alerts = (
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < %s) "
            "INSERT INTO heartbeats_alert (id, job_id, kind, created_at, trigger, details, done) "
            f"SELECT lower(hex(randomblob(16))), {name}, "
            "CASE i % 3 WHEN 0 THEN 'down' WHEN 1 THEN 'failed' ELSE 'hung' END, "
            "datetime(%s, '-' || i || ' minutes'), 'cron', '{}', 1 FROM seq"
        )
        params = [count, when]
    deliveries = (
        "INSERT INTO heartbeats_alertdelivery (alert_id, channel, state, attempts, "
        "next_attempt_at, last_error, created_at, updated_at, sent_at) "
        "SELECT id, 'slack', 'sent', 1, created_at, '', created_at, created_at, created_at "
        "FROM heartbeats_alert"
    )
    with connection.cursor() as cursor:
        cursor.execute(alerts.replace("i % ", "i %% "), params)
        cursor.execute(deliveries)
    analyze()
