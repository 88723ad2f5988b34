"""What a channel create or update may carry (beyond Healthchecks, in its conventions): strict
types, nulls refused, unknown fields ignored. Error messages name the field, never its value,
so a secret sent in the wrong place is not echoed back."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from heartbeats.api.schemas import StrictSpec

HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
Email = Annotated[str, Field(max_length=254)]


class ChannelSpec(StrictSpec):
    """A channel's writable fields; None means "not given, leave as is"."""

    name: str | None = Field(None, min_length=1, max_length=100)
    kind: Literal["slack", "email", "webhook", "pagerduty", "msteams"] | None = None
    notify: Literal["down", "up", "both"] | None = None
    default: bool | None = None
    tags: str | None = Field(None, max_length=500)
    url: str | None = Field(None, max_length=2000)
    to: list[Email] | None = Field(None, max_length=50)
    routing_key: str | None = Field(None, max_length=200)
    secret: str | None = Field(None, max_length=500)
    headers: dict[str, str] | None = Field(None, max_length=20)

    @field_validator("url")
    @classmethod
    def check_url(cls, value: str) -> str:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise PydanticCustomError("url_syntax", "bad URL") from None
        return value

    @field_validator("to")
    @classmethod
    def check_recipients(cls, value: list[str]) -> list[str]:
        for address in value:
            try:
                validate_email(address)
            except ValidationError:
                raise PydanticCustomError("email_syntax", "bad address") from None
        return value

    @field_validator("headers")
    @classmethod
    def check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not HEADER_NAME.fullmatch(name) or not text.isascii() or not text.isprintable():
                raise PydanticCustomError("header_syntax", "bad header")
        return value


def parse_channel(data: dict) -> ChannelSpec:
    """The spec in `data`; raises ValidationError."""
    return ChannelSpec.model_validate(data, strict=True)
