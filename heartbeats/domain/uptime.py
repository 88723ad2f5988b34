"""Uptime from flips: the share of a window a job was not down, with `now` passed in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta


def uptime(
    flips: Sequence[tuple[datetime, str]], *, down_before: bool, start: datetime, end: datetime
) -> float:
    """The fraction (0 to 1) of [start, end) the job was not down.

    `flips` are (time, new status) inside the window, oldest first; `down_before` says whether
    the job was down when the window began (its last flip before `start` was to down).
    """
    span = end - start
    if span <= timedelta(0):
        return 1.0
    down = timedelta(0)
    down_since = start if down_before else None
    for moment, status in flips:
        moment = min(max(moment, start), end)
        if status == "down" and down_since is None:
            down_since = moment
        elif status != "down" and down_since is not None:
            down += moment - down_since
            down_since = None
    if down_since is not None:
        down += end - down_since
    return 1 - down / span
