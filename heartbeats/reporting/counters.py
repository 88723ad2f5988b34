"""The Prometheus counters: all-time totals that never go down, whatever retention removes.

A counter is what the kept rows count plus what retention pruned of it: retention adds the
rows it deletes to `PrunedTotal` in the transaction that deletes them, so the sum never drops
and the hot paths (pings, deliveries) write nothing more. May import models and `summary_figures`;
imported by `retention` and `prometheus`.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, F, Func, Q, QuerySet, Sum, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce

from heartbeats.domain import check_runs
from heartbeats.models import (
    ENV_CHANNELS,
    PROBLEM_KINDS,
    AlertDelivery,
    Channel,
    CheckRun,
    DeliveryState,
    PrunedTotal,
)
from heartbeats.reporting import summary_figures

SENT = "alerts_sent"
FAILED = "alerts_failed"
SUPPRESSED = "alerts_suppressed"

Key = tuple[str, str]  # (counter, channel label or "")


def channel_keys() -> list[str]:
    """Every channel's label: "slack" and "email", then each database channel's id."""
    rows = Channel.objects.order_by("name").values_list("id", flat=True)
    return [*ENV_CHANNELS, *(str(channel_id) for channel_id in rows)]


def delivery_counters() -> dict[Key, Q]:
    """Which deliveries each delivery counter counts: problem alerts sent, deliveries given up,
    per channel (labelled by key, which a rename leaves alone)."""
    counters: dict[Key, Q] = {}
    for channel in channel_keys():
        counters[(SENT, channel)] = Q(
            channel=channel, state=DeliveryState.SENT, alert__kind__in=PROBLEM_KINDS
        )
        counters[(FAILED, channel)] = Q(channel=channel, state__in=summary_figures.UNDELIVERED)
    return counters


def add_pruned_deliveries(deliveries: QuerySet[AlertDelivery]) -> None:
    """Record, before they are deleted in this transaction, what `deliveries` counted."""
    counters = delivery_counters()
    found = deliveries.aggregate(
        **{f"c{i}": Count("pk", filter=q) for i, q in enumerate(counters.values())}
    )
    _add({key: found[f"c{i}"] for i, key in enumerate(counters)})


def add_pruned_runs(runs: QuerySet[CheckRun]) -> None:
    """Record, before they are deleted in this transaction, the alerts `runs` suppressed."""
    found = runs.filter(check_runs.COUNTED).aggregate(total=Coalesce(Sum("suppressed_alerts"), 0))
    _add({(SUPPRESSED, ""): found["total"]})


def _add(amounts: dict[Key, int]) -> None:
    amounts = {key: n for key, n in amounts.items() if n}
    if not amounts:
        return
    PrunedTotal.objects.bulk_create(
        [PrunedTotal(metric=metric, label=label) for metric, label in amounts],
        ignore_conflicts=True,
    )
    for (metric, label), n in amounts.items():
        PrunedTotal.objects.filter(metric=metric, label=label).update(value=F("value") + n)


def _scalar(qs: QuerySet, expression: Combinable) -> tuple[str, list]:
    sql, params = qs.order_by().values(n=expression).query.sql_with_params()
    return f"({sql})", list(params)


def totals() -> dict[Key, int]:
    """Every counter's all-time total, in one statement: one snapshot, so a prune committing
    meanwhile is seen whole or not at all."""
    live: dict[Key, tuple[str, list]] = {
        key: _scalar(AlertDelivery.objects.filter(q), Func(F("pk"), function="COUNT"))
        for key, q in delivery_counters().items()
    }
    live[(SUPPRESSED, "")] = _scalar(
        CheckRun.objects.filter(check_runs.COUNTED),
        Coalesce(Func(F("suppressed_alerts"), function="SUM"), Value(0)),
    )
    columns, params = [], []
    for (metric, label), (sql, live_params) in live.items():
        pruned_sql, pruned_params = _scalar(
            PrunedTotal.objects.filter(metric=metric, label=label), F("value")
        )
        columns.append(f"{sql} + COALESCE({pruned_sql}, 0)")
        params += live_params + pruned_params
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", params)
        row = cursor.fetchone()
    return {key: int(value) for key, value in zip(live, row, strict=True)}
