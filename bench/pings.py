"""Benchmark 1: pings over HTTP against the database's own ceiling for the same write.

    python -m bench.pings [--jobs 100000] [--duration 15] [--connections 8] [--database URL]
                          [--smoke]

HTTP: gunicorn (2 sync workers, persistent connections: DB_CONN_MAX_AGE, or with `--pool`
Django's psycopg pool of one connection per worker) serves the app; wrk
(Debian: `apt-get install wrk`) pings `/ping/<uuid>` of a random job per request with 8
connections, first for a warm-up, then for `--duration` seconds: requests/s, p50/p99 latency,
errors. Ceiling: pgbench (Debian: in `postgresql-15`) runs the statements `record_signal`
actually issues for a ping, captured from the app itself, with 2 clients for as long.
pgbench speaks only to PostgreSQL; on SQLite only the HTTP part runs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import common

HERE = Path(__file__).resolve().parent
# One connection per sync worker. Unlike DB_CONN_MAX_AGE, which the settings pair with
# CONN_HEALTH_CHECKS (a `SELECT 1` round trip at the start of every request), the pool
# checks nothing per request.
DB_POOL = {"DB_POOL": "true", "DB_POOL_MIN_SIZE": "1", "DB_POOL_MAX_SIZE": "1"}


def _uuids(path: Path) -> int:
    from heartbeats.models import JobHeartbeat

    with path.open("w") as out:
        count = 0
        for value in JobHeartbeat.objects.values_list("uuid", flat=True).iterator(10_000):
            out.write(f"{value}\n")
            count += 1
    return count


# --- the ceiling: pgbench with the app's own statements -----------------------------------


def _captured_ping() -> tuple[list[tuple[str, list]], str, str]:
    """The statements one ping by UUID issues, with the job's name and uuid they used."""
    from django.db import connection

    from heartbeats.models import JobHeartbeat
    from heartbeats.signals import recording

    job = JobHeartbeat.objects.get(job_name="bench-0000001")
    statements: list[tuple[str, list]] = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, list(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        recording.record_signal(
            job_uuid=job.uuid,
            create=False,
            now=common.NOW,
            remote_addr="127.0.0.1",
            user_agent="wrk",
        )  # as the ping view calls it for `GET /ping/<uuid>` from wrk
    return statements, job.job_name, str(job.uuid)


def pgbench_script() -> str:
    """A pgbench transaction made of the app's statements, addressed to a random job `:i`."""
    from django.db import connection
    from psycopg.sql import Literal

    statements, name, job_uuid = _captured_ping()
    name_sql = common.job_name_sql("CAST(:i AS text)")
    replacements = {name: name_sql, job_uuid: f"md5({name_sql})::uuid"}
    lines = [r"\set i random(1, :jobs)", "BEGIN;"]
    for sql, params in statements:
        if "%%" in sql:
            raise RuntimeError(f"cannot render a statement with a literal %: {sql[:80]}")
        parts = sql.split("%s")
        rendered = [parts[0]]
        for param, part in zip(params, parts[1:], strict=True):
            if isinstance(param, datetime):
                value = "now()"
            elif str(param) in replacements:
                value = replacements[str(param)]
            else:
                value = Literal(param).as_string(connection.connection)
            rendered += [value, part]
        lines.append("".join(rendered) + ";")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def run_pgbench(url: str, *, jobs: int, seconds: int, clients: int = 2) -> dict:
    if shutil.which("pgbench") is None:
        sys.exit("pgbench is missing: apt-get install postgresql-15 (it ships pgbench)")
    parts = urlsplit(url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(pgbench_script())
        script.flush()
        done = subprocess.run(
            [
                "pgbench",
                "-n",
                "-M",
                "simple",
                "-c",
                str(clients),
                "-j",
                str(clients),
                "-T",
                str(seconds),
                "-D",
                f"jobs={jobs}",
                "-f",
                script.name,
                "-h",
                parts.hostname or "127.0.0.1",
                "-p",
                str(parts.port or 5432),
                "-U",
                parts.username or "postgres",
                common.database_name(url),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed: {done.stderr.strip()[-500:]}")
    tps = re.search(r"tps = ([\d.]+)", done.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if tps is None or latency is None:
        raise RuntimeError(f"pgbench printed no tps or latency: {done.stdout.strip()[-500:]}")
    return {
        "clients": clients,
        "tps": float(tps.group(1)),
        "latency_ms": float(latency.group(1)),
        "failed": int(failed.group(1)) if failed else 0,
    }


# --- pings over HTTP ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(base: str, job_uuid: str, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            urllib.request.urlopen(f"{base}/ping/{job_uuid}", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers; wrk counts what it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s")


def _wrk(base: str, *, seconds: int, connections: int, env: dict) -> dict:
    done = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(HERE / "ping.lua"),
            base,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip()[-500:]}")
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    seconds_run = stats["duration_us"] / 1e6
    errors = sum(stats[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "requests": stats["requests"],
        "rps": stats["requests"] / seconds_run,
        "p50_ms": stats["p50_us"] / 1000,
        "p99_ms": stats["p99_us"] / 1000,
        "max_ms": stats["max_us"] / 1000,
        "errors": errors,
        "error_kinds": {k: stats[k] for k in ("connect", "read", "write", "status", "timeout")},
    }


def _total_runs() -> int:
    from django.db.models import Sum

    from heartbeats.models import JobHeartbeat

    return JobHeartbeat.objects.aggregate(n=Sum("n_runs"))["n"] or 0


def run_http(
    url: str, *, uuids: Path, warmup: int, seconds: int, connections: int, pool: bool
) -> dict:
    """Serve with gunicorn, warm up, measure with wrk; always stops the server."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **common.bench_environ(url),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        **(DB_POOL if pool else {"DB_CONN_MAX_AGE": "600"}),
        "LOG_LEVEL": "WARNING",
        "BENCH_UUIDS": str(uuids),
        "BENCH_METHOD": os.environ.get("BENCH_METHOD", "GET"),
    }
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "cronmonitor.wsgi",
                "--workers",
                "2",
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=common.app_root(),
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            _wait_until_up(base, uuids.read_text().split("\n", 1)[0], server, timeout=30)
            _wrk(base, seconds=warmup, connections=connections, env=env)
            before = _total_runs()
            result = _wrk(base, seconds=seconds, connections=connections, env=env)
            result["beats_recorded"] = _total_runs() - before
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if result["errors"]:
            log.seek(0)
            result["server_log_tail"] = log.read()[-2000:]
    return result


def measure(
    url: str,
    *,
    jobs: int,
    warmup: int,
    seconds: int,
    connections: int,
    parts: set[str],
    pool: bool = False,
) -> dict:
    common.truncate_all()
    common.seed_jobs(jobs)
    result: dict = {"jobs": jobs, "seconds": seconds, "connections": connections, "pool": pool}
    result["http"] = result["pgbench"] = None
    if "http" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            uuids = Path(tmp) / "uuids.txt"
            _uuids(uuids)
            result["http"] = run_http(
                url,
                uuids=uuids,
                warmup=warmup,
                seconds=seconds,
                connections=connections,
                pool=pool,
            )
    if "pgbench" in parts and common.is_postgres():
        result["pgbench"] = run_pgbench(url, jobs=jobs, seconds=seconds)
    elif "pgbench" in parts:
        result["pgbench_not_measured"] = "pgbench speaks only to PostgreSQL"
    if result["http"] and result["pgbench"]:
        result["share_of_ceiling"] = result["http"]["rps"] / result["pgbench"]["tps"]
    return result


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=100_000)
    p.add_argument("--duration", type=int, default=15, help="seconds measured (each part)")
    p.add_argument("--warmup", type=int, default=5, help="seconds of load before measuring")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--part", choices=["both", "http", "pgbench"], default="both")
    p.add_argument("--pool", action="store_true", help="psycopg pool instead of CONN_MAX_AGE")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = p.parse_args(argv)
    if args.smoke:
        args.jobs, args.warmup, args.duration = 200, 1, 2
    common.setup_django(args.database)
    result = measure(
        args.database,
        jobs=args.jobs,
        warmup=args.warmup,
        seconds=args.duration,
        connections=args.connections,
        parts={"http", "pgbench"} if args.part == "both" else {args.part},
        pool=args.pool,
    )
    common.truncate_all()
    print(json.dumps(result) if args.json else _report(result))
    return 0


def _report(r: dict) -> str:
    rows = []
    if r["http"]:
        h = r["http"]
        rows.append(
            [
                f"HTTP pings (gunicorn 2 workers, {'pool' if r['pool'] else 'CONN_MAX_AGE'}, "
                f"wrk {r['connections']} connections)",
                f"{h['rps']:.0f}",
                f"{h['p50_ms']:.1f}",
                f"{h['p99_ms']:.1f}",
                h["errors"],
            ]
        )
    if r["pgbench"]:
        g = r["pgbench"]
        rows.append(
            [
                f"pgbench, the same statements, {g['clients']} clients",
                f"{g['tps']:.0f}",
                f"{g['latency_ms']:.2f} (mean)",
                "",
                g["failed"],
            ]
        )
    lines = [
        f"{r['jobs']:,} jobs, {r['seconds']} s each",
        common.table(["", "per second", "p50 ms", "p99 ms", "errors"], rows),
    ]
    if r["http"]:
        lines.append(
            f"runs the database gained while measuring: {r['http']['beats_recorded']:,} "
            f"(wrk counted {r['http']['requests']:,} answers)"
        )
    if r["http"] and r["http"]["errors"]:
        lines.append(f"HTTP errors by kind: {r['http']['error_kinds']}")
    if "share_of_ceiling" in r:
        lines.append(f"pings/s as a share of the ceiling: {r['share_of_ceiling']:.0%}")
    if "pgbench_not_measured" in r:
        lines.append(f"not measured: {r['pgbench_not_measured']}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
