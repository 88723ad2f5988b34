"""The job page's last pings: when, what, from which host, how, and each ping's body (the
run's output or log message), clipped in the table with the full text one click away."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from heartbeats.domain import durations
from heartbeats.models import JobHeartbeat, PingEvent
from heartbeats.redaction import job_output

RECENT_EVENTS = 20
BODY_PREVIEW_CHARS = 80
BODY_STYLE = (
    "white-space:pre-wrap;overflow-wrap:anywhere;max-width:70ch;max-height:24em;overflow:auto;"
    "margin:4px 0"
)
COLUMNS = ["Received", "Kind", "Exit status", "Duration", "From", "Method", "User agent", "Body"]


def sender(event: PingEvent) -> str:
    """The host name `beat` reported, the address an HTTP ping came from, or both."""
    known = [part for part in (event.host, event.remote_addr) if part]
    return " / ".join(known) or "-"


def body_cell(body: str) -> SafeString:
    """A short body whole; a long one as its first line, clipped, that opens to the full text
    (the alert already quotes the output's last lines)."""
    if not body:
        return format_html("{}", "-")
    lines = body.strip().splitlines()
    if len(body) <= BODY_PREVIEW_CHARS and len(lines) <= 1:
        return format_html('<pre class="cm-body" style="{}">{}</pre>', BODY_STYLE, body)
    first = lines[0] if lines else ""
    preview = (first if len(first) <= BODY_PREVIEW_CHARS else first[:BODY_PREVIEW_CHARS]) + " …"
    return format_html(
        '<details class="cm-body"><summary>{} <small>({} lines, {} characters)</small></summary>'
        '<pre style="{}">{}</pre></details>',
        preview,
        len(lines),
        len(body),
        BODY_STYLE,
        body,
    )


def events_table(job: JobHeartbeat) -> SafeString:
    events = PingEvent.objects.filter(job=job).order_by("-created_at")[:RECENT_EVENTS]
    rows = [
        (
            durations.moment(event.created_at),
            event.get_kind_display(),
            "-" if event.exit_status is None else event.exit_status,
            "-" if event.duration is None else durations.duration(event.duration),
            sender(event),
            event.method or "-",
            event.user_agent or "-",
            body_cell(job_output(event.body)),
        )
        for event in events
    ]
    if not rows:
        return format_html("<p>{}</p>", "No ping received yet.")
    head = format_html_join("", "<th>{}</th>", ((column,) for column in COLUMNS))
    body = format_html_join("", "<tr>" + "<td>{}</td>" * len(COLUMNS) + "</tr>", rows)
    return format_html(
        '<table class="cm-events"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body
    )
