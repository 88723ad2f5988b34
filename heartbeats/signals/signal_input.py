"""What a beat or a ping may carry, parsed and checked before anything is written: the signal
suffix, run id, status, metadata and body."""

from __future__ import annotations

import json
import re
import uuid

from django.core.exceptions import ValidationError

from heartbeats.domain import policy, tags
from heartbeats.models import EventKind, validate_job_name, validate_status

MAX_METADATA_BYTES = 64 * 1024

MAX_METADATA_DEPTH = 20

RUN_ID_SHAPE = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", re.IGNORECASE)

SIGNAL_SUFFIXES = {
    "": EventKind.SUCCESS,
    "start": EventKind.START,
    "fail": EventKind.FAIL,
    "log": EventKind.LOG,
}


class InvalidSignal(ValueError):
    """Input that must be refused before anything is written; the message is one line."""


def _depth(value: object, level: int = 0) -> int:
    if level > MAX_METADATA_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def parse_metadata(text: str) -> dict:
    """Metadata as given on the command line: a JSON object of sensible size and depth."""
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise InvalidSignal(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidSignal(f"metadata is not valid JSON: {exc}") from None
    except ValueError as exc:
        raise InvalidSignal(str(exc)) from None
    if not isinstance(value, dict):
        raise InvalidSignal('metadata must be a JSON object, like {"rows": 42}')
    if _depth(value) > MAX_METADATA_DEPTH:
        raise InvalidSignal(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise InvalidSignal(
            "metadata holds a lone surrogate (\\ud800-\\udfff): not UTF-8"
        ) from None
    if "\\u0000" in json.dumps(value):
        raise InvalidSignal("metadata must not contain NUL characters (\\u0000)")
    return value


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON: databases refuse them in JSON columns."""
    raise ValueError(f"metadata is not valid JSON: {name} is not allowed")


def validate_signal(*, job_name: str, status: str | None) -> None:
    try:
        validate_job_name(job_name)
    except Exception:
        raise InvalidSignal(
            f"invalid job name {job_name[:140]!r}: use 1 to 128 letters, digits, '.', '_', '-' "
            "or ':'"
        ) from None
    if status is not None:
        try:
            validate_status(status)
        except Exception:
            raise InvalidSignal(
                f"invalid status {status[:40]!r}: use one word of up to 32 letters, digits, '_' "
                "or '-'"
            ) from None


def exit_status_kind(exit_status: int) -> EventKind:
    """A finished run's signal from its exit status, as a shell sees it: 0 is success."""
    if not 0 <= exit_status <= 255:
        raise InvalidSignal(f"invalid exit status {exit_status}: use 0 to 255")
    return EventKind.SUCCESS if exit_status == 0 else EventKind.FAIL


def parse_signal(suffix: str) -> tuple[EventKind, int | None]:
    """The signal named by a ping URL's last part: '', start, fail, log or an exit status."""
    if suffix in SIGNAL_SUFFIXES:
        return SIGNAL_SUFFIXES[suffix], None
    if re.fullmatch(r"[0-9]{1,9}", suffix):
        exit_status = int(suffix)
        return exit_status_kind(exit_status), exit_status
    raise InvalidSignal(f"invalid signal {suffix[:40]!r}: use start, fail, log or 0 to 255")


def parse_tags(text: str) -> str:
    """Tags for a job created by this signal, stored normalised; InvalidSignal names the bad one."""
    try:
        return tags.normalize(text)
    except ValidationError as exc:
        raise InvalidSignal(exc.messages[0]) from None


def parse_rid(text: str) -> uuid.UUID:
    """A run id, which pairs a start with its finish: a UUID, with or without its dashes.

    `uuid.UUID` alone also takes braces, a "urn:uuid:" prefix and, through `int`, a newline or
    space in place of a missing digit."""
    if not RUN_ID_SHAPE.fullmatch(text):
        raise InvalidSignal("invalid uuid format")
    return uuid.UUID(text)


def storable_body(body: str) -> str:
    """The first PING_BODY_LIMIT bytes of `body`, without the NUL PostgreSQL cannot store."""
    clipped = body.encode()[: policy.ping_body_limit()].decode(errors="ignore")
    return clipped.replace("\x00", "\ufffd")
