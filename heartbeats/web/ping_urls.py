from __future__ import annotations

from collections.abc import Callable

from django.urls import URLPattern, path, re_path

from heartbeats.web import pings


def ping_route(route: str, view: Callable) -> list[URLPattern]:
    """The route with and without a trailing slash, which some Healthchecks.io clients add:
    both answer directly, since a redirect would lose a POST's body."""
    return [path(route, view), path(f"{route}/", view)]


urlpatterns = [
    *ping_route("ping/<uuid:job_uuid>", pings.ping_by_uuid),
    *ping_route("ping/<uuid:job_uuid>/<str:signal>", pings.ping_by_uuid),
    *ping_route("ping/<str:key>/<str:job_name>", pings.ping_by_name),
    *ping_route("ping/<str:key>/<str:job_name>/<str:signal>", pings.ping_by_name),
    re_path(r"^ping/", pings.unknown),
]
