"""Keep secrets out of error pages, logs, stored error texts and the job output shown or sent."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

SECRET_SETTINGS = (
    "SLACK_WEBHOOK_URL", "RESEND_API_KEY", "SECRET_KEY", "PING_KEYS", "CHANNEL_SECRET_KEY",
)  # fmt: skip
URL_PATTERN = re.compile(r"https?://[^\s'\"<>]+")


class SecretSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter hides *KEY*/*TOKEN* settings; webhook and database URLs too."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|WEBHOOK|DATABASE_URL|DATABASES",
        flags=re.IGNORECASE,
    )


def secret_values() -> list[str]:
    """Every configured secret, and for URLs their path and path segments (the token)."""
    values: list[str] = []
    for name in SECRET_SETTINGS:
        value = getattr(settings, name, "")
        values.extend(value if isinstance(value, list | tuple) else [value])
    return with_url_parts(values)


def with_url_parts(values: list[str]) -> list[str]:
    """`values`, and for URLs their path and long path segments, longest first."""
    values = list(values)
    for value in list(values):
        if value.startswith(("http://", "https://")):
            path = urlsplit(value).path
            values += [path, *(part for part in path.split("/") if len(part) >= 8)]
    return sorted((v for v in values if v and len(v) >= 4), key=len, reverse=True)


def redact_secrets(text: str) -> str:
    """Remove every configured secret value from `text`."""
    for value in secret_values():
        text = text.replace(value, "[redacted]")
    return text


def job_output(text: str, *, last: int | None = None) -> str:
    """A job's output (a ping body) as the admin shows it and alerts send it: configured
    secrets redacted, other URLs kept (users need them); with `last`, only its last
    characters, the cut moved back so it never falls inside a secret.

    Bodies are stored as received and redacted here, when shown: a secret configured later is
    hidden too, a wrongly set secret hides nothing for good, and a ping stays a plain write.
    """
    if last is not None and len(text) > last:
        text = text[_cut_outside_secrets(text, len(text) - last) :]
    return redact_secrets(text)


def _cut_outside_secrets(text: str, cut: int) -> int:
    """`cut`, or the start of the secret it falls in (from the right: that one may start
    inside another)."""
    spans = [
        (match.start(), match.end())
        for value in secret_values()
        for match in re.finditer(re.escape(value), text)
    ]
    for begin, end in sorted(spans, reverse=True):
        if begin < cut < end:
            cut = begin
    return cut


def redact(text: str) -> str:
    """Remove every configured secret and every URL (they may embed tokens) from `text`."""
    return URL_PATTERN.sub("[url]", redact_secrets(text))


def first_line(exc: BaseException) -> str:
    """An exception as one redacted line, for a command's one-line error."""
    return redact((str(exc).strip().splitlines() or [type(exc).__name__])[0])


class SecretSafeExceptionReporter(ExceptionReporter):
    """The DEBUG error page, without secrets even where the filter cannot reach (a ping key
    in the request path, a webhook URL in a local variable's repr). Still safe strings, as
    Django's are: "[redacted]" in place of a secret adds no markup."""

    def get_traceback_html(self) -> SafeString:
        return mark_safe(redact_secrets(super().get_traceback_html()))

    def get_traceback_text(self) -> SafeString:
        return mark_safe(redact_secrets(super().get_traceback_text()))


class RedactSecretsFilter(logging.Filter):
    """Last line of defence: scrub secrets from any record a handler is about to write."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
