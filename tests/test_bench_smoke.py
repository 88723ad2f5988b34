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
    for size in (small, large):
        assert size["pass"]["alerts_sent"] == size["stale"] == size["jobs"] // 100
        assert size["pass"]["errors"] == []
        assert size["sink_requests"] > 0
    assert small["pass"]["queries"] == large["pass"]["queries"]
    assert small["idle_queries"] == large["idle_queries"]


def test_beat_cold_start_smoke():
    result = bench("beat_startup", "--smoke")
    assert result["check_s"] > 0 and result["beat_s"] > 0
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
    assert result["pgbench"]["tps"] > 0
    assert result["pgbench"]["failed"] == 0


@pytest.mark.parametrize("pool", [False, True], ids=["conn_max_age", "pool"])
def test_pings_over_http_smoke(pool):
    result = bench("pings", "--smoke", "--part", "http", *(["--pool"] if pool else []))
    assert result["http"]["requests"] > 0
    assert result["http"]["errors"] == 0
    assert result["http"]["beats_recorded"] >= result["http"]["requests"]


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
