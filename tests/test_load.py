"""A bounded load test: many clients ping many jobs at once; no accepted heartbeat is lost.

Loopback only, a fixed number of requests, stops by itself. The large version is
`bench/` (see bench/README.md); this one keeps the property honest on every CI run.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
import requests
from django.utils import timezone

from heartbeats.models import JobHeartbeat
from heartbeats.signals import recording
from tests.conftest import at_once

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "load-test-ping-key-0123456789"
CLIENTS = 8
REQUESTS_PER_CLIENT = 40
JOBS = 25


def test_concurrent_pings_lose_no_heartbeat(live_server, settings):
    settings.PING_KEYS = [KEY]
    now = timezone.now()
    jobs = [recording.record_signal(job_name=f"load-{i}", now=now).job for i in range(JOBS)]
    accepted: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        session = requests.Session()
        for _ in range(REQUESTS_PER_CLIENT):
            job = rng.choice(jobs)
            if rng.random() < 0.5:
                url = f"{live_server.url}/ping/{job.uuid}"
            else:
                url = f"{live_server.url}/ping/{KEY}/{job.job_name}"
            try:
                response = session.post(url, data=b"ok", timeout=30)
            except requests.RequestException as exc:
                with lock:
                    failures.append(type(exc).__name__)
                continue
            with lock:
                if response.status_code == 200:
                    accepted[job.job_name] += 1
                else:
                    failures.append(f"{response.status_code} {response.text}")
        session.close()

    assert at_once(client, CLIENTS) == []
    assert failures == []
    assert sum(accepted.values()) == CLIENTS * REQUESTS_PER_CLIENT
    runs = dict(
        JobHeartbeat.objects.filter(job_name__startswith="load-").values_list("job_name", "n_runs")
    )
    assert runs == {job.job_name: 1 + accepted[job.job_name] for job in jobs}
