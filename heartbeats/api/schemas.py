"""What a check create or update may carry, validated with pydantic as Healthchecks does:
strict types, nulls refused, unknown fields ignored, the first error as one line."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from heartbeats.domain import schedules
from heartbeats.models import JOB_NAME_PATTERN

UniqueField = Literal["name", "slug", "tags", "timeout", "grace"]


class StrictSpec(BaseModel):
    """What every request body shares: nulls refused, no NUL in text."""

    @model_validator(mode="before")
    @classmethod
    def refuse_nulls(cls, data: Any) -> Any:
        # As Healthchecks: a null becomes a value of no field's type, so strict validation
        # names the field ("grace is not a number") instead of reading it as "not given".
        if isinstance(data, dict):
            return {k: 0.0 if v is None else v for k, v in data.items()}
        return data

    @field_validator("*")
    @classmethod
    def storable_text(cls, value: Any) -> Any:
        # PostgreSQL refuses NUL in text (pydantic itself refuses lone surrogates).
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError("nul_char", "NUL character")
        return value


class CheckSpec(StrictSpec):
    """A check's writable fields; None means "not given, leave as is"."""

    name: str | None = Field(None, max_length=100)
    slug: str | None = Field(None, max_length=128)
    tags: str | None = Field(None, max_length=500)
    desc: str | None = Field(None, max_length=10_000)
    # Healthchecks' bounds, in seconds: a minute to 365 days.
    timeout: int | None = Field(None, ge=60, le=31536000)
    grace: int | None = Field(None, ge=60, le=31536000)
    schedule: str | None = Field(None, max_length=100)
    tz: str | None = Field(None, max_length=64)
    manual_resume: bool | None = None
    methods: Literal["", "POST"] | None = None
    channels: str | None = Field(None, max_length=10_000)
    start_kw: str | None = Field(None, max_length=200)
    success_kw: str | None = Field(None, max_length=200)
    failure_kw: str | None = Field(None, max_length=200)
    filter_body: bool | None = None
    unique: list[UniqueField] | None = None
    # Healthchecks' email fields: type-checked, accepted and not used (docs/api.md).
    filter_subject: bool | None = None
    subject: str | None = Field(None, max_length=200)
    subject_fail: str | None = Field(None, max_length=200)

    @field_validator("slug")
    @classmethod
    def check_slug(cls, value: str) -> str:
        if not re.fullmatch(JOB_NAME_PATTERN, value):
            raise PydanticCustomError("slug_syntax", "bad slug")
        return value

    @field_validator("tz")
    @classmethod
    def check_tz(cls, value: str) -> str:
        try:
            schedules.zone(value)
        except schedules.ScheduleError:
            raise PydanticCustomError("tz_syntax", "bad time zone") from None
        return value

    @field_validator("schedule")
    @classmethod
    def check_schedule(cls, value: str) -> str:
        try:
            next(schedules.cron_runs(value, "UTC", datetime(2000, 1, 1, tzinfo=UTC)))
        except (schedules.ScheduleError, StopIteration):
            raise PydanticCustomError("cron_syntax", "bad cron expression") from None
        return value


MESSAGES = {
    "string_too_long": "%s is too long",
    "string_type": "%s is not a string",
    "less_than_equal": "%s is too large",
    "greater_than_equal": "%s is too small",
    "int_type": "%s is not a number",
    "bool_type": "%s is not a boolean",
    "literal_error": "%s has unexpected value",
    "list_type": "%s is not an array",
    "cron_syntax": "%s is not a valid cron expression",
    "tz_syntax": "%s is not a valid timezone",
    "slug_syntax": "%s must be 1 to 128 letters, digits, '.', '_', '-' or ':'",
    "model_type": "%s is not an object",
    "nul_char": "%s contains a NUL character",
    "string_unicode": "%s is not valid UTF-8 (a lone surrogate?)",
    "dict_type": "%s is not an object",
    "too_long": "%s has too many items",
    "string_too_short": "%s is empty",
    "url_syntax": "%s is not an http:// or https:// URL",
    "email_syntax": "%s has an item that is not an email address",
    "header_syntax": "%s has an item that is not a header name and an ASCII value",
    "iso_time": "%s is not an ISO 8601 time with a UTC offset",
    "clock_time": "%s is not a time as HH:MM",
    "days_syntax": "%s must be days from mon tue wed thu fri sat sun",
    "uuid_syntax": "%s has an item that is not a UUID",
}


def first_error(exc: ValidationError) -> str:
    """Healthchecks' one-line message for the first problem: 'json validation error: ...'."""
    error = exc.errors()[0]
    location = error["loc"]
    subject = str(location[0]) if location else "value"
    if len(location) == 2:
        subject = f"an item in '{subject}'"
    template = MESSAGES.get(error["type"], f"%s: {error['msg']}")
    return "json validation error: " + template % subject


def parse_spec(data: dict) -> CheckSpec:
    """The spec in `data`; raises ValidationError."""
    return CheckSpec.model_validate(data, strict=True)
