"""Property-based: whatever `beat` is given, it stores it whole or refuses it in one line."""

from __future__ import annotations

import json
import math
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heartbeats.models import JOB_NAME_PATTERN, STATUS_PATTERN, JobHeartbeat, PingEvent

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def beat(*args: str) -> str | None:
    """Run beat; return the error line, or None when it succeeded."""
    try:
        call_command("beat", *args, stdout=StringIO(), stderr=StringIO())
    except CommandError as exc:
        assert exc.returncode == 2
        return str(exc)
    return None


@PROPERTY
@given(
    # argparse reads a leading "-" as an option, whatever the command does with it.
    name=st.text(max_size=140).filter(lambda n: not n.startswith("-")),
    status=st.text(max_size=40),
)
def test_any_name_and_status(name, status):
    before = (JobHeartbeat.objects.count(), PingEvent.objects.count())
    error = beat(name, f"--status={status}")
    valid = re.fullmatch(JOB_NAME_PATTERN, name) and re.fullmatch(STATUS_PATTERN, status)
    if valid:
        assert error is None
        # Names are case-insensitive: an earlier example may have made the job as `i`, not `I`.
        assert JobHeartbeat.objects.get(job_name__iexact=name).status == status
    else:
        assert error is not None and "\n" not in error
        assert (JobHeartbeat.objects.count(), PingEvent.objects.count()) == before


@PROPERTY
@given(metadata=json_values)
def test_any_json_metadata(metadata):
    text = json.dumps(metadata)
    error = beat("prop-job", f"--metadata={text}")
    if not isinstance(metadata, dict):
        assert error == 'metadata must be a JSON object, like {"rows": 42}'
    elif "\\u0000" in text:  # PostgreSQL's jsonb cannot hold NUL; refused on both databases
        assert error == "metadata must not contain NUL characters (\\u0000)"
    else:
        assert error is None
        assert same_json(JobHeartbeat.objects.get(pk="prop-job").metadata, metadata)


def same_json(stored, given) -> bool:
    """Equal as JSON documents; jsonb keeps numbers as decimals, so 1e16 may come back an int."""
    if isinstance(given, float) and isinstance(stored, int | float):
        return math.isclose(stored, given, rel_tol=1e-15, abs_tol=1e-300)
    if isinstance(given, dict):
        return (
            isinstance(stored, dict)
            and stored.keys() == given.keys()
            and all(same_json(stored[k], v) for k, v in given.items())
        )
    if isinstance(given, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(given)
            and all(same_json(a, b) for a, b in zip(stored, given, strict=True))
        )
    return stored == given and type(stored) is type(given)


@PROPERTY
@given(
    text=st.text(max_size=200)
    | st.sampled_from(['{"a": NaN}', '{"a": -Infinity}', '{"a": "\\u0000"}'])
)
def test_any_metadata_text(text):
    JobHeartbeat.objects.filter(pk="prop-text").delete()
    error = beat("prop-text", f"--metadata={text}")
    if error is None:
        assert JobHeartbeat.objects.get(pk="prop-text").metadata == json.loads(text)
    else:
        assert "\n" not in error
        assert not JobHeartbeat.objects.filter(pk="prop-text").exists()
