"""What a maintenance window create or update may carry: strict types, nulls refused; times
as ISO 8601 with an offset, wall times as HH:MM, days as `mon tue ...`."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time

from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from heartbeats.api.schemas import StrictSpec
from heartbeats.domain.maintenance import DAYS

CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class MaintenanceSpec(StrictSpec):
    """A window's writable fields; None means "not given, leave as is"."""

    model_config = ConfigDict(populate_by_name=False)

    name: str | None = Field(None, min_length=1, max_length=100)
    start: str | None = Field(None, max_length=40)
    end: str | None = Field(None, max_length=40)
    days: str | None = Field(None, max_length=100)
    time_from: str | None = Field(None, alias="from", max_length=5)
    time_to: str | None = Field(None, alias="to", max_length=5)
    tz: str | None = Field(None, max_length=64)
    checks: list[str] | None = Field(None, max_length=1000)
    tags: str | None = Field(None, max_length=500)
    all: bool | None = None

    @field_validator("start", "end")
    @classmethod
    def check_moment(cls, value: str) -> str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is None or moment.utcoffset() is None:
            raise PydanticCustomError("iso_time", "bad time")
        return value

    @field_validator("time_from", "time_to")
    @classmethod
    def check_clock(cls, value: str) -> str:
        if not CLOCK.fullmatch(value):
            raise PydanticCustomError("clock_time", "bad time")
        return value

    @field_validator("days")
    @classmethod
    def check_days(cls, value: str) -> str:
        chosen = value.lower().split()
        if any(day not in DAYS for day in chosen):
            raise PydanticCustomError("days_syntax", "bad days")
        return " ".join(day for day in DAYS if day in chosen)

    @field_validator("checks")
    @classmethod
    def check_uuids(cls, value: list[str]) -> list[str]:
        for code in value:
            try:
                uuid.UUID(code)
            except ValueError:
                raise PydanticCustomError("uuid_syntax", "bad UUID") from None
        return value


def parse_window(data: dict) -> MaintenanceSpec:
    """The spec in `data`; raises ValidationError."""
    return MaintenanceSpec.model_validate(data, strict=True)


def moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def clock(text: str | None) -> time | None:
    return None if text is None else time.fromisoformat(text)
