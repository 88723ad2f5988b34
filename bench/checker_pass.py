"""Benchmark 2: one checker pass over 10k / 100k / 1M jobs with 1% stale.

    python -m bench.checker_pass [--sizes 10000,100000,1000000] [--stale-every 100]
                                 [--database URL] [--smoke]

For each size: seed healthy jobs and time passes with nothing due (median), manual and as
crontab runs them (with the checker's own heartbeat); make every 100th job stale and time one
pass that alerts them through a local HTTP sink (throttle off), split into deciding/recording,
delivering and finishing (event pruning, the run's record, the checker's own heartbeat); then
run that pass again under tracemalloc for its peak Python memory (tracemalloc slows code down,
so it never shares a pass with the timings).
"""

from __future__ import annotations

import json
import resource
import statistics
import time
import tracemalloc
from datetime import datetime, timedelta

from bench import common


def _timed_pass(now: datetime, trigger: str = "manual") -> dict:
    """One `run_check`, with wall time and statements split at the start of delivery."""
    from heartbeats.alerts import check_run, delivery

    original = delivery.deliver_pending
    split: dict = {}

    def deliver_pending(**kwargs):
        split["decide_s"], split["decide_q"] = time.perf_counter() - started, counter.queries
        report = original(**kwargs)
        split["deliver_s"] = time.perf_counter() - started - split["decide_s"]
        split["deliver_q"] = counter.queries - split["decide_q"]
        return report

    delivery.deliver_pending = deliver_pending
    try:
        with common.counting() as counter:
            started = time.perf_counter()
            result = check_run.run_check(now=now, trigger=trigger)
            total = time.perf_counter() - started
    finally:
        delivery.deliver_pending = original
    return {
        **split,
        "total_s": total,
        "queries": counter.queries,
        "db_s": counter.db_seconds,
        "total_jobs": result.total_jobs,
        "stale_jobs": result.stale_jobs,
        "alerts_sent": result.alerts_sent,
        "errors": result.errors,
    }


def _peak_bytes(now: datetime) -> int:
    from heartbeats.alerts import check_run

    tracemalloc.start()
    try:
        check_run.run_check(now=now, trigger="manual")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _forget_alerts() -> None:
    """Back to the state before the alerting pass, so it can be repeated for memory."""
    from django.db import connection

    from heartbeats.models import Alert, AlertDelivery, CheckRun

    with connection.cursor() as cursor:
        for model in (AlertDelivery, Alert, CheckRun):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
        cursor.execute(
            "UPDATE job_heartbeats SET last_alert_at = NULL, alerted = %s WHERE alerted",
            [False],
        )


def measure(size: int, *, stale_every: int = 100, idle_runs: int = 5) -> dict:
    """Seed `size` jobs, then time idle passes and one alerting pass; returns the figures."""
    from heartbeats.models import JobHeartbeat

    common.truncate_all()
    seeded = time.perf_counter()
    common.seed_jobs(size)
    seed_s = time.perf_counter() - seeded
    idle = [_timed_pass(common.NOW + timedelta(seconds=k)) for k in range(idle_runs)]
    idle_peak = _peak_bytes(common.NOW + timedelta(seconds=idle_runs))
    # As crontab runs it: the checker also records its own heartbeat.
    cron = [
        _timed_pass(common.NOW + timedelta(seconds=idle_runs + 1 + k), "cron")
        for k in range(idle_runs)
    ]
    count_s = common.median_seconds(JobHeartbeat.objects.count, 3)
    stale = common.make_stale(stale_every)
    with common.http_sink() as sink:
        common.channels_to(sink)
        when = common.NOW + timedelta(minutes=1)
        alerting = _timed_pass(when)
        requests = sink.received
        _forget_alerts()
        peak = _peak_bytes(when)
    return {
        "jobs": size,
        "stale": stale,
        "seed_s": seed_s,
        "idle_s": statistics.median(p["total_s"] for p in idle),
        "idle_queries": idle[-1]["queries"],
        "cron_idle_s": statistics.median(p["total_s"] for p in cron),
        "cron_idle_queries": cron[-1]["queries"],
        "idle_peak_bytes": idle_peak,
        "count_s": count_s,
        "pass": alerting,
        "sink_requests": requests,
        "peak_bytes": peak,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def _row(r: dict) -> list:
    p = r["pass"]
    return [
        f"{r['jobs']:,}",
        f"{r['stale']:,}",
        p["alerts_sent"],
        r["sink_requests"],
        f"{p['decide_s'] * 1000:.0f}",
        f"{p['deliver_s'] * 1000:.0f}",
        f"{(p['total_s'] - p['decide_s'] - p['deliver_s']) * 1000:.0f}",
        f"{p['total_s'] * 1000:.0f}",
        f"{p['decide_q']} + {p['deliver_q']} + {p['queries'] - p['decide_q'] - p['deliver_q']}",
        f"{r['peak_bytes'] / 2**20:.1f}",
        f"{r['idle_s'] * 1000:.1f}",
        r["idle_queries"],
        f"{r['cron_idle_s'] * 1000:.1f}",
        r["cron_idle_queries"],
        f"{r['idle_peak_bytes'] / 2**10:.0f}",
        f"{r['count_s'] * 1000:.1f}",
    ]


HEADERS = [
    "jobs",
    "stale",
    "alerts sent",
    "sink requests",
    "decide+record ms",
    "deliver ms",
    "finish ms",
    "total ms",
    "queries (decide + deliver + finish)",
    "peak MiB",
    "nothing due ms",
    "nothing due queries",
    "nothing due, cron ms",
    "nothing due, cron queries",
    "nothing due peak KiB",
    "count(*) ms (not used)",
]


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--stale-every", type=int, default=100, help="every Nth job is stale")
    p.add_argument("--idle-runs", type=int, default=21, help="passes with nothing due (median)")
    p.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    args = p.parse_args(argv)
    common.setup_django(args.database)
    # Smoke sizes both above the digest threshold (5 alerts), so both send digests.
    sizes = [700, 2000] if args.smoke else [int(s) for s in args.sizes.split(",")]
    results = [
        measure(size, stale_every=args.stale_every, idle_runs=2 if args.smoke else args.idle_runs)
        for size in sizes
    ]
    common.truncate_all()
    if args.json:
        print(json.dumps(results))
    else:
        print(common.table(HEADERS, [_row(r) for r in results]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
