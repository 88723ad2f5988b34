"""Geometry of the anti-spam bar chart, drawn as inline SVG by the summary template."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH = 640
HEIGHT = 220
TOP = 20
BOTTOM = 36
LEFT = 32
BAR_GAP = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int


@dataclass(frozen=True)
class DayColumn:
    label: str
    label_x: float
    alerts: Bar
    jobs: Bar


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    top: float
    left: int
    maximum: int
    columns: list[DayColumn]


def day_chart(days: list[DayCount]) -> Chart:
    """Two bars a day (alerts sent, unique jobs), scaled to the busiest day."""
    maximum = max([1, *(day.alerts_sent for day in days), *(day.unique_jobs for day in days)])
    baseline = HEIGHT - BOTTOM
    plot_height = baseline - TOP
    column_width = (WIDTH - LEFT) / max(len(days), 1)
    bar_width = (column_width - 3 * BAR_GAP) / 2

    def bar(x: float, value: int) -> Bar:
        height = plot_height * value / maximum
        return Bar(x=x, y=baseline - height, width=bar_width, height=height, value=value)

    columns = []
    for index, day in enumerate(days):
        x = LEFT + index * column_width + BAR_GAP
        columns.append(
            DayColumn(
                label=day.day.strftime("%a %d"),
                label_x=LEFT + (index + 0.5) * column_width,
                alerts=bar(x, day.alerts_sent),
                jobs=bar(x + bar_width + BAR_GAP, day.unique_jobs),
            )
        )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        baseline=baseline,
        top=TOP,
        left=LEFT,
        maximum=maximum,
        columns=columns,
    )


@dataclass(frozen=True)
class DayCount:
    day: date
    alerts_sent: int
    unique_jobs: int
