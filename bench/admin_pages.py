"""Benchmark 4: the admin change list, every filter value, the summary page, any page by URL.

    python -m bench.admin_pages [--jobs 100000] [--history 1000000] [--url /summary/ ...]
                                [--database URL] [--smoke]

Seeds jobs (1% stale, a share recently alerted) and alert history (one sent delivery per
alert), logs a superuser in with Django's test client, and requests each page `--repeat`
times: median server time (the whole request in process: middleware, view, template) and the
statements issued. The change list's filter values are read at run time from its filter specs,
so new filters are measured as they land; `/summary/` is measured too, and `--url` adds any
page.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta

from bench import common

CHANGELIST = "/admin/heartbeats/jobheartbeat/"
DEFAULT_EXTRA = ["/summary/"]


def _seed(jobs: int, history: int) -> None:
    from django.db import connection

    common.truncate_all()
    common.seed_jobs(jobs)
    common.make_stale(100)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE job_heartbeats SET last_alert_at = %s WHERE CAST(substr(job_name, 7) AS "
            "INTEGER) %% 200 = 0",
            [connection.ops.adapt_datetimefield_value(common.NOW - timedelta(hours=2))],
        )
        # A few statuses besides 'healthy', so the status filter has several values to time.
        cursor.execute(
            "UPDATE job_heartbeats SET status = CASE WHEN CAST(substr(job_name, 7) AS INTEGER) "
            "%% 300 = 0 THEN 'failed' ELSE 'degraded' END "
            "WHERE CAST(substr(job_name, 7) AS INTEGER) %% 150 = 0",
            [],
        )
    common.seed_alert_history(history, jobs=jobs)


def _superuser():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    return user


def filter_urls(user) -> list[str]:
    """The change list and one URL per filter value its filter specs offer (none: base only)."""
    from django.contrib import admin
    from django.test import RequestFactory

    from heartbeats.models import JobHeartbeat

    model_admin = admin.site.get_model_admin(JobHeartbeat)
    request = RequestFactory().get(CHANGELIST)
    request.user = user
    changelist = model_admin.get_changelist_instance(request)
    urls = [CHANGELIST]
    for spec in changelist.filter_specs:
        for choice in spec.choices(changelist):
            url = CHANGELIST + choice["query_string"]
            if choice["query_string"] != "?" and url not in urls:
                urls.append(url)
    return urls


def measure_page(client, url: str, repeat: int) -> dict:
    samples, counts, status = [], set(), None
    for _ in range(repeat):
        with common.counting() as counter:
            started = time.perf_counter()
            response = client.get(url)
            samples.append(time.perf_counter() - started)
        status = response.status_code
        counts.add(counter.queries)
    return {
        "url": url,
        "status": status,
        "ms": statistics.median(samples) * 1000,
        "queries": sorted(counts),
    }


def measure(*, jobs: int, history: int, extra: list[str], repeat: int) -> dict:
    from django.test import Client

    _seed(jobs, history)
    user = _superuser()
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    urls = filter_urls(user) + extra
    client.get(CHANGELIST)  # warm-up: templates, URL resolvers
    pages = [measure_page(client, url, repeat) for url in urls]
    return {"jobs": jobs, "history": history, "pages": pages}


def main(argv: list[str] | None = None) -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=100_000)
    p.add_argument("--history", type=int, default=1_000_000, help="alert-history rows")
    p.add_argument("--url", action="append", default=[], help="another page to measure")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = p.parse_args(argv)
    common.setup_django(args.database)
    if args.smoke:
        args.jobs, args.history, args.repeat = 200, 1000, 2
    result = measure(
        jobs=args.jobs, history=args.history, extra=DEFAULT_EXTRA + args.url, repeat=args.repeat
    )
    common.truncate_all()
    if args.json:
        print(json.dumps(result))
        return 0
    rows = [
        [f"`{p['url']}`", p["status"], f"{p['ms']:.0f}", "/".join(map(str, p["queries"]))]
        for p in result["pages"]
    ]
    print(f"{result['jobs']:,} jobs, {result['history']:,} alert-history rows")
    print(common.table(["page", "status", "median ms", "queries"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
