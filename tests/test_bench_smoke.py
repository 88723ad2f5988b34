"""The benchmarks in smoke mode (tiny sizes, seconds), so they cannot rot; plus the exact
figures they report that must not depend on size: query counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The test database: the benchmarks run in their own process, against it."""
    db = django_settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def bench(name: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--json", "--database", database_url(), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_checker_pass_smoke():
    small, large = bench("checker_pass", "--smoke")
    assert (small["jobs"], large["jobs"]) == (700, 2000)
    for size in (small, large):
        alerting = size["pass"]
        assert alerting["total_jobs"] == size["jobs"] + 1  # and the checker's own heartbeat
        assert (
            alerting["alerts_sent"]
            == alerting["stale_jobs"]
            == size["stale"]
            == size["jobs"] // 100
        )
        assert alerting["errors"] == []
        # Over the digest threshold: one Slack digest and one email digest, nothing resent.
        assert size["sink_requests"] == 2
        # The three phases are parts of the pass measured, each a plausible wall time.
        assert alerting["decide_s"] > 0
        assert alerting["deliver_s"] > 0
        assert alerting["decide_s"] + alerting["deliver_s"] <= alerting["total_s"] < 60
        assert 0 < alerting["db_s"] <= alerting["total_s"]
        assert alerting["decide_q"] + alerting["deliver_q"] <= alerting["queries"] < 100
        assert 0 < size["idle_s"] < alerting["total_s"]
        assert size["idle_queries"] < alerting["queries"]
        assert 10_000 < size["peak_bytes"] < 64 * 2**20
    assert small["pass"]["queries"] == large["pass"]["queries"]
    assert small["idle_queries"] == large["idle_queries"]


def test_beat_cold_start_smoke():
    result = bench("beat_startup", "--smoke")
    assert result["runs"] == 2
    # Starting Python and Django takes tenths of a second, not microseconds or minutes.
    for seconds in (result["check_s"], result["beat_s"]):
        assert 0.05 < seconds < 30
    assert result["ratio"] == pytest.approx(result["beat_s"] / result["check_s"])
    assert result["heavy_modules_in_beat"] == []


def test_admin_pages_smoke_query_counts_do_not_grow():
    few = bench("admin_pages", "--jobs", "300", "--history", "50", "--repeat", "1")
    many = bench("admin_pages", "--jobs", "600", "--history", "3000", "--repeat", "1")
    assert [p["status"] for p in many["pages"]] == [200] * len(many["pages"])
    assert {p["url"]: p["queries"] for p in few["pages"]} == {
        p["url"]: p["queries"] for p in many["pages"]
    }


def test_pgbench_ceiling_smoke():
    if connection.vendor != "postgresql":
        pytest.skip("pgbench speaks only to PostgreSQL; the PostgreSQL pass runs this")
    result = bench("pings", "--smoke", "--part", "pgbench")
    pgbench = result["pgbench"]
    assert pgbench["failed"] == 0
    assert pgbench["tps"] > 50  # a loopback server does hundreds to thousands
    # Closed loop: each client waits for its answer, so latency is clients / throughput.
    assert pgbench["latency_ms"] == pytest.approx(
        1000 * pgbench["clients"] / pgbench["tps"], rel=0.5
    )


@pytest.mark.parametrize("pool", [False, True], ids=["conn_max_age", "pool"])
def test_pings_over_http_smoke(pool):
    if pool and connection.vendor != "postgresql":
        pytest.skip("the pool is psycopg's: PostgreSQL only")
    result = bench("pings", "--smoke", "--part", "http", *(["--pool"] if pool else []))
    http = result["http"]
    assert http["errors"] == 0
    assert http["requests"] > 20  # two seconds of eight connections
    assert http["rps"] == pytest.approx(http["requests"] / result["seconds"], rel=0.2)
    assert 0 < http["p50_ms"] <= http["p99_ms"] <= http["max_ms"] < 5000
    # Every answer counted was a beat recorded; at most the requests in flight at either end
    # of the window (one per connection each) are recorded but not counted.
    connections = result["connections"]
    assert http["requests"] <= http["beats_recorded"] <= http["requests"] + 2 * connections


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgres://postgres@db.example.com:5432/cm_bench", "loopback only"),
        ("postgres://postgres@127.0.0.1:5432/production", "use a cm_bench* database"),
    ],
)
def test_benchmarks_refuse_remote_hosts_and_foreign_databases(url, reason):
    done = subprocess.run(
        [sys.executable, "-m", "bench.checker_pass", "--smoke", "--database", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().endswith(reason)
    assert "Traceback" not in done.stderr
