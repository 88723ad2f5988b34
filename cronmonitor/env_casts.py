"""Typed reads of the environment for settings.py: each wrong value is refused at start with an
ImproperlyConfigured naming its variable, which manage.py prints as one "Configuration error" line.

Every read goes through django-environ (`env.str`, `env.list`, and `env(name, cast=...)`, the hook
its `env.int` uses). Floats and booleans pass their own casts through that hook because
django-environ's are lenient: `env.float` keeps only digits, "," "." and "-" ("1e12" reads as 112)
and `env.bool` reads any word it does not know as false.
Imports only the standard library, django-environ, cronsim and Django's exceptions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple, TypeVar
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from cronsim import CronSim, CronSimError
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
UUID_SHAPE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
T = TypeVar("T")


class Bound(NamedTuple):
    """The largest value a setting takes, with what it means to an operator ("366 days")."""

    maximum: float
    meaning: str = ""

    def __str__(self) -> str:
        return f"{self.maximum} ({self.meaning})" if self.meaning else str(self.maximum)


def _read(name: str, cast: Callable[[str], T], what: str) -> T:
    try:
        return env(name, cast=cast)
    # ImproperlyConfigured: a "$OTHER" value names an unset variable (django-environ's proxy).
    except (ValueError, ImproperlyConfigured):
        raise ImproperlyConfigured(f"{name} must be {what}, not {os.environ[name]!r}") from None


def _blank(name: str) -> bool:
    return not os.environ.get(name, "").strip()


def _float(value: str) -> float:
    return float(value.strip())


def _bool(value: str) -> bool:
    word = value.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(word)


def env_bool(name: str, default: bool) -> bool:
    """Set but blank reads as false, as an empty `DEBUG=` line in .env means."""
    return default if name not in os.environ else _read(name, _bool, "true or false")


def env_positive(name: str, default: float, bound: Bound) -> float:
    value = default if _blank(name) else _read(name, _float, "a number")
    # NaN fails every comparison and infinity exceeds any maximum, so both are refused here.
    if not 0 < value <= bound.maximum:
        raise ImproperlyConfigured(
            f"{name} must be greater than 0 and at most {bound}, not {os.environ[name].strip()}"
        )
    return value


def env_int(name: str, default: int, minimum: int = 1, bound: Bound | None = None) -> int:
    value = default if _blank(name) else _read(name, int, "a whole number")
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    if bound is not None and value > bound.maximum:
        raise ImproperlyConfigured(f"{name} must be at most {bound}, not {value}")
    return value


def env_list(name: str) -> list[str]:
    # Not env.list: it keeps blanks around items, and fails on a "$OTHER" value.
    return [item.strip() for item in env.str(name, default="").split(",") if item.strip()]


def _log_level(value: str) -> str:
    if value.strip().upper() not in LOG_LEVELS:
        raise ValueError(value)
    return value.strip().upper()


def env_log_level(name: str, default: str) -> str:
    what = f"one of {', '.join(LOG_LEVELS)} (any case)"
    return default if _blank(name) else _read(name, _log_level, what)


def env_time_zone(name: str, default: str) -> str:
    value = env.str(name, default=default)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name} must be an IANA time zone, not {value!r}") from None
    return value


def env_crontab(name: str, default: str) -> str:
    value = env.str(name, default=default).strip()
    try:
        CronSim(value, datetime(2000, 1, 1))
    except (CronSimError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} must be a crontab expression: {exc}") from None
    return value


def env_ping_keys(name: str) -> list[str]:
    """Ping keys sit in URLs beside job UUIDs: URL-safe, hard to guess, never UUID-shaped."""
    keys = env_list(name)
    for key in keys:
        if not re.fullmatch(r"[A-Za-z0-9_~.-]{16,}", key) or re.fullmatch(UUID_SHAPE, key):
            raise ImproperlyConfigured(
                f"{name} must list keys of 16+ URL-safe characters (letters, digits, _ ~ . -) "
                "that are not UUIDs; generate one with: python -c 'import secrets; "
                "print(secrets.token_urlsafe(16))'"
            )
    return keys


def _http_url(value: str) -> SplitResult | None:
    """The parts of an http(s) URL with a host and a numeric port (if any), else None."""
    if re.search(r"\s", value):
        return None
    try:
        parts = urlsplit(value)
        # Reading the port raises ValueError when it is not a number from 0 to 65535.
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.port == 0:
            return None
    except ValueError:
        return None
    return parts


def env_url(name: str, default: str, *, base: bool = True) -> str:
    """An http(s) URL, blank for the default. Paths are appended to a base URL, so it takes no
    query or fragment. The message never quotes the value: a webhook URL is a secret."""
    value = env.str(name, default="").strip() or default
    if not value:
        return value
    parts = _http_url(value)
    if parts is None or (base and (parts.query or parts.fragment)):
        rule = " and no query or fragment" if base else ""
        raise ImproperlyConfigured(f"{name} must be an https:// or http:// URL with a host{rule}")
    return value.rstrip("/") if base else value


def env_origins(name: str) -> list[str]:
    """Origins as browsers send them: Django compares them whole, so a path never matches."""
    origins = env_list(name)
    for origin in origins:
        parts = _http_url(origin)
        if parts is None or parts.path or parts.query or parts.fragment:
            raise ImproperlyConfigured(
                f"{name} must list origins such as https://cron.example.com (scheme and host, "
                f"no path), not {origin!r}"
            )
    return origins


DATABASE_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}
DATABASE_SCHEMES = "sqlite:///<path> or postgres://user:password@host:port/name (or postgresql://)"


def env_database(name: str, default: str) -> dict:
    """Django's DATABASES entry for a SQLite or PostgreSQL URL, before the engine's tuning."""
    url = env.str(name, default=default)
    # Messages here never quote the URL, nor django-environ's errors: either may hold the password.
    scheme, separator, _ = url.strip().partition("://")
    scheme = scheme.lower()
    if not separator or environ.Env.DB_SCHEMES.get(scheme) not in DATABASE_ENGINES:
        given = (
            f", not {scheme}://" if separator and re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme) else ""
        )
        raise ImproperlyConfigured(f"{name} must be {DATABASE_SCHEMES}{given}")
    try:
        return environ.Env.db_url_config(url.strip())
    except (ImproperlyConfigured, ValueError, KeyError):
        raise ImproperlyConfigured(
            f"{name} is not a valid database URL: expected {DATABASE_SCHEMES}, with a "
            "numeric port and special characters in the password percent-encoded"
        ) from None
