"""/api/v1/, /api/v2/ and /api/v3/ (the same views, `v` passed on), the badges, and the
OpenAPI description."""

from __future__ import annotations

from django.urls import URLPattern, path, re_path

from heartbeats.api import (
    badges,
    channel_views,
    check_views,
    history_views,
    maintenance_views,
    openapi,
    status,
)


def _versioned(v: int) -> list[URLPattern]:
    prefix = f"api/v{v}/"
    extra = {"v": v}
    return [
        path(f"{prefix}checks/", check_views.checks_view, extra),
        path(f"{prefix}checks/<str:code>", check_views.single_view, extra),
        path(f"{prefix}checks/<str:code>/pause", check_views.pause_view, extra),
        path(f"{prefix}checks/<str:code>/resume", check_views.resume_view, extra),
        path(f"{prefix}checks/<str:code>/pings/", history_views.pings_view, extra),
        path(f"{prefix}checks/<str:code>/pings/<int:n>/body", history_views.ping_body_view, extra),
        path(f"{prefix}checks/<str:code>/flips/", history_views.flips_view, extra),
        path(f"{prefix}channels/", channel_views.channels_view, extra),
        path(f"{prefix}channels/<str:code>", channel_views.channel_view, extra),
        path(f"{prefix}maintenance/", maintenance_views.windows_view, extra),
        path(f"{prefix}maintenance/<str:code>", maintenance_views.window_view, extra),
        path(f"{prefix}badges/", badges.badges_view, extra),
        path(f"{prefix}status/", status.status),
    ]


urlpatterns = [
    *(pattern for v in (1, 2, 3) for pattern in _versioned(v)),
    path("api/v3/openapi.json", openapi.openapi_view),
    re_path(r"^api/", check_views.not_found),  # any other API path: JSON, not an HTML page
    re_path(
        r"^badge/(?P<sig>[0-9a-f]{16}(-2)?)/(?P<tag>.+)\.(?P<fmt>svg|json|shields)$", badges.badge
    ),
]
