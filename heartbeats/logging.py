"""Keep secrets out of error pages, logs and stored error texts."""

from __future__ import annotations

import re

from django.conf import settings
from django.views.debug import SafeExceptionReporterFilter

SECRET_SETTINGS = ("SLACK_WEBHOOK_URL", "RESEND_API_KEY", "SECRET_KEY", "PING_KEYS")
URL_PATTERN = re.compile(r"https?://[^\s'\"<>]+")


class SecretSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter hides *KEY*/*TOKEN* settings; webhook and database URLs too."""

    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|WEBHOOK|DATABASE_URL|DATABASES",
        flags=re.IGNORECASE,
    )


def secret_values() -> list[str]:
    values: list[str] = []
    for name in SECRET_SETTINGS:
        value = getattr(settings, name, "")
        values.extend(value if isinstance(value, list | tuple) else [value])
    return [v for v in values if v and len(v) >= 4]


def redact(text: str) -> str:
    """Remove every configured secret and every URL (they may embed tokens) from `text`."""
    for value in secret_values():
        text = text.replace(value, "[redacted]")
    return URL_PATTERN.sub("[url]", text)
