"""Job tags: space-separated words, as Healthchecks' checks carry them.

A job's `tags` is stored normalised (each tag once, in the order first given, one space
apart), so "the job has tag T" is one SQL condition on the padded string: `has_tag_q` is the
twin of `has_tag`, held equal by tests/test_rules_sql_agree.py. Tags are case-sensitive.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db.models import Q

TAG_PATTERN = re.compile(r"[A-Za-z0-9._:/@+=-]{1,64}")
MAX_LENGTH = 500


def split(text: str) -> list[str]:
    """The tags in `text`, each once, in their first order."""
    return list(dict.fromkeys(text.split()))


def normalize(text: str) -> str:
    """`text` as stored, or ValidationError saying which tag is wrong."""
    tags = split(text)
    for tag in tags:
        if not TAG_PATTERN.fullmatch(tag):
            raise ValidationError(
                f"Tag {tag[:70]!r} is not 1 to 64 letters, digits or . _ : / @ + = -"
            )
    stored = " ".join(tags)
    if len(stored) > MAX_LENGTH:
        raise ValidationError(f"Tags are at most {MAX_LENGTH} characters in all.")
    return stored


def has_tag(stored: str, tag: str) -> bool:
    return tag in stored.split(" ")


def has_tag_q(tag: str, field: str = "tags") -> Q:
    """Rows whose `field` holds `tag` as a whole word, case-sensitively on both databases (a
    regular expression: SQLite's LIKE would ignore ASCII case)."""
    return Q(**{f"{field}__regex": rf"(^| ){re.escape(tag)}( |$)"})
