"""Property-based: any ping URL, query, header or body gets an answer below 500, and a refused
ping stores nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heartbeats.models import JobHeartbeat, PingEvent

pytestmark = pytest.mark.django_db

KEY = "hostile-test-ping-key-0123456789"
PROPERTY = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
segments = st.text(max_size=40) | st.sampled_from(
    ["start", "fail", "log", "0", "255", "256", "-1", "..", "%00", "\x00", "ü", KEY]
)


@pytest.fixture
def keyed(settings, make_job):
    settings.PING_KEYS = [KEY]
    return make_job("known")


def state() -> tuple:
    return (
        list(JobHeartbeat.objects.order_by("pk").values_list("pk", "n_runs", "last_outcome")),
        PingEvent.objects.count(),
    )


@PROPERTY
@given(
    parts=st.lists(segments, min_size=1, max_size=4),
    query=st.dictionaries(
        st.sampled_from(["rid", "create", "x"]), st.text(max_size=40), max_size=3
    ),
    body=st.binary(max_size=300),
    agent=st.text(max_size=300),
    forwarded=st.text(max_size=60),
    method=st.sampled_from(["get", "post", "head", "put", "delete"]),
)
def test_any_ping_request_is_answered_below_500(
    keyed, client, parts, query, body, agent, forwarded, method
):
    before = state()
    path = "/ping/" + "/".join(quote(p, safe="") for p in parts)
    send = getattr(client, method)
    kwargs = {"QUERY_STRING": "&".join(f"{k}={quote(v)}" for k, v in query.items())}
    headers = {"HTTP_USER_AGENT": agent, "HTTP_X_FORWARDED_FOR": forwarded}
    if method in ("post", "put"):
        response = send(
            path, data=body, content_type="application/octet-stream", **kwargs, **headers
        )
    else:
        response = send(path, **kwargs, **headers)
    assert response.status_code < 500
    assert response["Content-Type"].startswith("text/plain")
    if response.status_code >= 400:
        assert state() == before


@PROPERTY
@given(name=st.text(min_size=1, max_size=140), body=st.binary(max_size=20_000))
def test_any_name_and_body_with_the_key(keyed, client, name, body):
    response = client.post(
        f"/ping/{KEY}/{quote(name, safe='')}?create=1", data=body, content_type="text/plain"
    )
    assert response.status_code in (200, 201, 400, 404)
