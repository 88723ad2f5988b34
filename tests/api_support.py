"""Helpers for the management API's tests: keys and a JSON client."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from heartbeats.access import keys


def make_key(*, read_only: bool = False, name: str = "test") -> str:
    return keys.issue(name=name, read_only=read_only, now=timezone.now()).key


class Api:
    """A test client sending the key in X-Api-Key and JSON bodies."""

    def __init__(self, client: Client, key: str, v: int = 3) -> None:
        self.client, self.key, self.v = client, key, v

    def url(self, path: str) -> str:
        return f"/api/v{self.v}/{path}"

    def get(self, path: str, **params):
        return self.client.get(self.url(path), params, HTTP_X_API_KEY=self.key)

    def post(self, path: str, data=None, *, raw: str | bytes | None = None):
        body = raw if raw is not None else ("" if data is None else json.dumps(data))
        return self.client.post(
            self.url(path), body, content_type="application/json", HTTP_X_API_KEY=self.key
        )

    def delete(self, path: str):
        return self.client.delete(self.url(path), HTTP_X_API_KEY=self.key)


@pytest.fixture
def api(db, client) -> Api:
    return Api(client, make_key())


@pytest.fixture
def readonly_api(db, client) -> Api:
    return Api(client, make_key(read_only=True))
