"""Status badges per tag and overall ("*"), as Healthchecks serves them: SVG, JSON and
shields.io JSON, in two-state (late counts as up) and three-state variants, at URLs signed
with SECRET_KEY so they cannot be guessed, and listed by `GET badges/`."""

from __future__ import annotations

import hmac
from collections import Counter
from urllib.parse import quote

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.cache import never_cache

from heartbeats.api import checks
from heartbeats.api.endpoint import READ, Call, endpoint
from heartbeats.domain import policy, queries, rules, tags
from heartbeats.models import JobHeartbeat

COLORS = {"up": "#4c1", "late": "#fe7d37", "down": "#e05d44"}
SHIELDS_COLORS = {"up": "success", "late": "important", "down": "critical"}
OVERALL_LABEL = "cronmonitor"


def signature(tag: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"badge:{tag}".encode(), "sha256")
    return digest.hexdigest()[:16]


def badge_url(tag: str, fmt: str, *, with_late: bool) -> str:
    sig = signature(tag) + ("" if with_late else "-2")
    return f"{settings.SITE_URL.rstrip('/')}/badge/{sig}/{quote(tag, safe='')}.{fmt}"


def list_badges(call: Call) -> JsonResponse:
    every = {"*"}
    for stored in (
        JobHeartbeat.objects.exclude(tags="").order_by().values_list("tags", flat=True).distinct()
    ):
        every.update(tags.split(stored))
    urls = {}
    for tag in sorted(every):
        urls[tag] = {
            "svg": badge_url(tag, "svg", with_late=False),
            "svg3": badge_url(tag, "svg", with_late=True),
            "json": badge_url(tag, "json", with_late=False),
            "json3": badge_url(tag, "json", with_late=True),
            "shields": badge_url(tag, "shields", with_late=False),
            "shields3": badge_url(tag, "shields", with_late=True),
        }
    return JsonResponse({"badges": urls})


def tally(tag: str, *, with_late: bool) -> dict[str, int | str]:
    """The badge's status over the tag's jobs (every job for "*"): down if any is down, late
    (three-state only) if any is in its grace time, else up.

    Badges are public and fetched often: the states are counted in SQL (`queries.with_job_state`),
    and only running jobs, whose check status is the state under the run, are loaded."""
    jobs = (
        JobHeartbeat.objects.all()
        if tag == "*"
        else JobHeartbeat.objects.filter(tags.has_tag_q(tag))
    )
    now = timezone.now()
    stale_after = policy.thresholds().stale_after
    by_state = queries.with_job_state(jobs, now=now, stale_after=stale_after).order_by()
    found: Counter[str] = Counter()
    for state, count in by_state.values_list("job_state").annotate(n=Count("pk")):
        if state != rules.JobState.RUNNING:
            found[checks.STATUS[rules.JobState(state)]] += count
    running = by_state.filter(job_state=rules.JobState.RUNNING.value)
    found.update(checks.status(job, now=now, v=3) for job in running)
    down, grace = found["down"], found["grace"]
    status = "down" if down else ("late" if grace and with_late else "up")
    return {"status": status, "total": found.total(), "grace": grace, "down": down}


@never_cache
def badge(request: HttpRequest, sig: str, tag: str, fmt: str) -> HttpResponse:
    with_late = not sig.endswith("-2")
    if not hmac.compare_digest(sig.removesuffix("-2"), signature(tag)):
        response = HttpResponse("not found", status=404, content_type="text/plain")
    else:
        counts = tally(tag, with_late=with_late)
        label = OVERALL_LABEL if tag == "*" else tag
        status = str(counts["status"])
        if fmt == "json":
            response = JsonResponse(counts)
        elif fmt == "shields":
            response = JsonResponse(
                {"schemaVersion": 1, "label": label, "message": status,
                 "color": SHIELDS_COLORS[status]}
            )  # fmt: skip
        else:
            svg = render_to_string(
                "api/badge.svg", {"label": label, "status": status, "color": COLORS[status],
                                  "label_width": 6 * len(label) + 10, "status_width": 40}
            )  # fmt: skip
            response = HttpResponse(svg, content_type="image/svg+xml")
    response["Access-Control-Allow-Origin"] = "*"
    return response


badges_view = endpoint(GET=(list_badges, READ))
