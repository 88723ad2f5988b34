"""Detection delay: from a job's deadline to its alert reaching Slack, under the real cron.

A copy of the app is deployed to a temporary folder with its own `.env` (this database, a
local Slack receiver, the every-minute default schedule), its crontab lines are installed with
`manage.py crontab add`, and the cron daemon runs the checker as it would in production. N jobs
on a one-minute period beat until each stops at its own time (staggered, so they do not look
like a monitoring outage); the receiver records when each job's alert arrives. The delay is
arrival minus deadline (last run + period + grace, the job's `due_at`). The crontab lines are
removed at the end, whatever happened.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import common

JOB_PREFIX = "detect-"
TARGET_SECONDS = 90
TICK_SECONDS = 5
APP_PARTS = ("manage.py", "cronmonitor", "heartbeats", "templates")


class _ReceiverServer(http.server.ThreadingHTTPServer):
    arrivals: dict[str, datetime]


class _Receiver(http.server.BaseHTTPRequestHandler):
    """Slack's side: answers ok and notes when each job's name first arrives."""

    server: _ReceiverServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        arrived = datetime.now(UTC)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        for name in re.findall(rf"{JOB_PREFIX}\d+", body):
            self.server.arrivals.setdefault(name, arrived)

    def log_message(self, format: str, *args) -> None:
        return


@contextmanager
def slack_receiver() -> Iterator[_ReceiverServer]:
    server = _ReceiverServer(("127.0.0.1", 0), _Receiver)
    server.arrivals = {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def cron_pid() -> int | None:
    found = subprocess.run(["pgrep", "-x", "cron"], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


@contextmanager
def cron_daemon() -> Iterator[str]:
    """The cron daemon must run for the crontab to mean anything: started if it was not, and
    then stopped again, so the machine is left as it was found."""
    if cron_pid() is not None:
        yield "already running"
        return
    if shutil.which("cron") is None:
        sys.exit("the cron daemon is missing: apt-get install cron (scripts/ensure-system-deps.sh)")
    subprocess.run(["cron"], check=True)  # forks into the background
    started = cron_pid()
    try:
        yield "started for the benchmark, stopped after it"
    finally:
        if started is not None:
            os.kill(started, signal.SIGTERM)


def manage(root: Path, *args: str) -> subprocess.CompletedProcess:
    """manage.py of the deployed copy, as cron runs it: an empty environment, another folder."""
    return subprocess.run(
        [sys.executable, str(root / "manage.py"), *args],
        env={}, cwd="/", capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def deploy(root: Path, *, database_url: str, slack_url: str) -> None:
    """A copy of the app with the .env an operator would write (DEBUG off, every minute)."""
    source = common.app_root()
    root.mkdir()
    skip = shutil.ignore_patterns("__pycache__")
    for part in APP_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, root / part, ignore=skip)
        else:
            shutil.copy(source / part, root / part)
    (root / ".env").write_text(
        f"DATABASE_URL={database_url}\n"
        f"SLACK_WEBHOOK_URL={slack_url}\n"
        "HEALTHCHECK_SCHEDULE=* * * * *\n"
        f"SECRET_KEY={'detection-delay-benchmark-key-' * 2}\n"
    )


def absolute_database_url(url: str) -> str:
    """The deployed copy resolves a relative SQLite path against itself: make it absolute."""
    from django.conf import settings

    if url.startswith("sqlite"):
        return f"sqlite:///{settings.DATABASES['default']['NAME']}"
    return url


def create_jobs(count: int, *, period: timedelta, grace: timedelta) -> list[str]:
    from django.utils import timezone

    from heartbeats.models import JobHeartbeat
    from heartbeats.signals import recording

    names = [f"{JOB_PREFIX}{i:03d}" for i in range(count)]
    now = timezone.now()
    JobHeartbeat.objects.bulk_create(
        JobHeartbeat(job_name=name, last_run_at=now, period=period, grace=grace) for name in names
    )
    for name in names:
        recording.record_signal(job_name=name, now=timezone.now())
    return names


def beat_until_each_stops(names: list[str], *, stagger: float) -> None:
    """Every job beats every TICK_SECONDS until its stop time; job i stops `i * stagger` s in."""
    from django.utils import timezone

    from heartbeats.signals import recording

    started = time.monotonic()
    stops = {name: started + i * stagger for i, name in enumerate(names)}
    while running := [n for n in names if stops[n] >= time.monotonic()]:
        for name in running:
            recording.record_signal(job_name=name, now=timezone.now())
        time.sleep(TICK_SECONDS)


def wait_for_alerts(receiver, deadlines: dict[str, datetime], *, patience: timedelta) -> None:
    give_up = max(deadlines.values()) + patience
    while datetime.now(UTC) < give_up and set(deadlines) - set(receiver.arrivals):
        time.sleep(1)


def measure(args, receiver) -> dict:
    from heartbeats.models import CheckRun, JobHeartbeat

    period, grace = timedelta(minutes=args.period), timedelta(minutes=args.grace)
    names = create_jobs(args.jobs, period=period, grace=grace)
    beat_until_each_stops(names, stagger=args.stagger)
    deadlines: dict[str, datetime] = {}
    for name, due_at in JobHeartbeat.objects.filter(job_name__in=names).values_list("pk", "due_at"):
        assert due_at is not None, f"{name} beat but has no deadline"
        deadlines[name] = due_at
    wait_for_alerts(receiver, deadlines, patience=timedelta(seconds=TARGET_SECONDS + 120))
    delays = {
        name: (receiver.arrivals[name] - deadlines[name]).total_seconds()
        for name in names
        if name in receiver.arrivals
    }
    values = sorted(delays.values())
    return {
        "jobs": args.jobs,
        "alerted": len(delays),
        "period_minutes": args.period,
        "grace_minutes": args.grace,
        "stagger_seconds": args.stagger,
        "cron_runs": CheckRun.objects.filter(trigger="cron").count(),
        "max_seconds": round(values[-1], 1) if values else None,
        "p50_seconds": round(statistics.median(values), 1) if values else None,
        "target_met": len(delays) == args.jobs and values[-1] <= TARGET_SECONDS,
        "per_job": {
            name: {
                "deadline": deadlines[name].isoformat(),
                "delay_seconds": round(delays[name], 1) if name in delays else None,
            }
            for name in names
        },
    }


def report(result: dict, cron_state: str) -> str:
    rows = [
        [name, job["deadline"][11:19], job["delay_seconds"]]
        for name, job in result["per_job"].items()
    ]
    return "\n".join(
        [
            f"cron daemon: {cron_state}; {result['cron_runs']} checker runs started by cron",
            common.table(["job", "deadline (UTC)", "delay (s)"], rows),
            "",
            f"{result['alerted']} of {result['jobs']} jobs alerted; delay from deadline to "
            f"Slack: max {result['max_seconds']} s, p50 {result['p50_seconds']} s "
            f"(target <= {TARGET_SECONDS} s: {'met' if result['target_met'] else 'NOT met'})",
        ]
    )


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=10)
    p.add_argument("--period", type=int, default=1, help="minutes")
    p.add_argument("--grace", type=int, default=1, help="minutes")
    p.add_argument("--stagger", type=float, default=15, help="seconds between two jobs' stops")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.smoke:
        args.jobs = 2
    common.setup_django(args.database)
    common.truncate_all()  # an old run's history would read as a crontab gap
    # SIGTERM must still reach the `finally`s, which remove the crontab lines and stop cron.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    with (
        cron_daemon() as cron_state,
        tempfile.TemporaryDirectory() as tmp,
        slack_receiver() as receiver,
    ):
        root = Path(tmp) / "deploy"
        slack_url = f"http://127.0.0.1:{receiver.server_address[1]}/slack"
        deploy(root, database_url=absolute_database_url(args.database), slack_url=slack_url)
        try:
            added = manage(root, "crontab", "add")
            if added.returncode != 0:
                sys.exit(f"manage.py crontab add failed: {added.stderr.strip()}")
            result = measure(args, receiver)
        finally:
            removed = manage(root, "crontab", "remove")
            if removed.returncode != 0:
                print(f"crontab remove failed: {removed.stderr.strip()}", file=sys.stderr)
    print(json.dumps(result, indent=2) if args.json else report(result, cron_state))


if __name__ == "__main__":
    main()
