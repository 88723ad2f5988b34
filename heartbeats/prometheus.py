"""The /metrics exposition: a collector built per request over `metrics.py`.

A fresh registry per scrape keeps no state between requests (or tests), and the figures come
from the database at scrape time, so any number of web processes agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from heartbeats import metrics, rules


class SummaryCollector:
    """Reads the figures once per `collect`, at the `now` it was made with."""

    def __init__(self, *, now: datetime) -> None:
        self.now = now

    def collect(self) -> Iterator[Metric]:
        readings = metrics.job_readings(now=self.now)
        states = Counter(reading.state for reading in readings)
        jobs = GaugeMetricFamily("cronmonitor_jobs", "Jobs by state.", labels=["state"])
        for state in rules.JobState:
            jobs.add_metric([state.value], states[state])
        yield jobs
        yield GaugeMetricFamily(
            "cronmonitor_stale_jobs",
            "Jobs past their deadline without a heartbeat.",
            value=sum(reading.stale for reading in readings),
        )
        age = GaugeMetricFamily(
            "cronmonitor_job_seconds_since_heartbeat",
            "Seconds since each job's last heartbeat.",
            labels=["job"],
        )
        for reading in readings:
            age.add_metric([reading.job_name], (self.now - reading.last_run_at).total_seconds())
        yield age
        yield from self._alerts()
        yield from self._checker()

    def _alerts(self) -> Iterator[Metric]:
        totals = metrics.delivery_totals()
        sent = CounterMetricFamily(
            "cronmonitor_alerts_sent", "Problem alerts delivered, per channel.", labels=["channel"]
        )
        failed = CounterMetricFamily(
            "cronmonitor_alerts_failed",
            "Alert deliveries that gave up (failed or expired), per channel.",
            labels=["channel"],
        )
        for channel, total in totals.items():
            sent.add_metric([channel], total.sent)
            failed.add_metric([channel], total.failed)
        yield sent
        yield failed
        yield CounterMetricFamily(
            "cronmonitor_alerts_suppressed",
            "Alerts the anti-spam rule held back, summed over checker runs.",
            value=metrics.suppressed_total(),
        )

    def _checker(self) -> Iterator[Metric]:
        status = metrics.checker_status(now=self.now)
        yield GaugeMetricFamily(
            "cronmonitor_checker_ok",
            "1 when the checker runs on schedule and its last run succeeded, else 0.",
            value=int(status.problem is None),
        )
        if status.last_run is not None:
            yield GaugeMetricFamily(
                "cronmonitor_checker_seconds_since_last_run",
                "Seconds since the checker last started (dry runs excluded).",
                value=(self.now - status.last_run.started_at).total_seconds(),
            )


def exposition(*, now: datetime) -> bytes:
    registry = CollectorRegistry()
    registry.register(SummaryCollector(now=now))
    return generate_latest(registry)
