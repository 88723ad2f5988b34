"""Alert messages: one job's alert, a digest and a notice, as plain text, Slack blocks and email
HTML, from the facts `content` gathers."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from heartbeats.domain import durations
from heartbeats.domain.links import job_admin_url
from heartbeats.signals.command_wrapper import signal_of

SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})

ZERO_WIDTH_SPACE = "\u200b"


@dataclass(frozen=True)
class JobAlert:
    """What a message says about one job, read from the job when the message is sent."""

    job_name: str
    kind: str
    last_run_at: datetime | None = None
    overdue_hours: float | None = None
    status: str = ""
    last_alert_at: datetime | None = None
    schedule: str = ""
    last_event: str = ""
    output_tail: str = ""
    downtime_hours: float | None = None
    due_at: datetime | None = None
    last_success_at: datetime | None = None
    exit_status: int | None = None
    host: str = ""
    duration: timedelta | None = None
    started_at: datetime | None = None
    run_deadline: datetime | None = None
    running_hours: float | None = None
    flapping_incidents: int | None = None
    flap_window_hours: float | None = None


STATE_WORDS = {
    "down": "down: no heartbeat by its due time",
    "failed": "failed: its last run reported a failure",
    "hung": "running: started, not finished in time",
    "recovery": "back up",
}

# Digest headings: "3 jobs down, 1 failed, 2 back up".
DIGEST_WORDS = {"down": "down", "failed": "failed", "hung": "hung", "recovery": "back up"}


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    blocks: list[dict] = field(default_factory=list)
    # Slack's own text when it differs from the email's (its facts are read later, see
    # alert_content.message); empty: the same as `text`.
    slack_source: str = ""

    @property
    def slack_text(self) -> str:
        """`text` for Slack: it holds no markup of ours, so all of it is shown literally."""
        return slack_escape(self.slack_source or self.text)


def slack_escape(text: str) -> str:
    """Text that Slack shows as it is: `&`, `<` and `>` escaped as its formatting docs ask,
    so a job's name or output cannot mention `<!channel>` or pass off a link."""
    return text.translate(SLACK_ESCAPES)


def _slack_clip(escaped: str, limit: int) -> str:
    """The first `limit` characters of escaped text, without half an entity at the end."""
    if len(escaped) <= limit:
        return escaped
    clipped = escaped[:limit]
    amp = clipped.rfind("&")
    return clipped[:amp] if amp != -1 and ";" not in clipped[amp:] else clipped


def _slack_header(title: str) -> str:
    return _slack_clip(slack_escape(title), 150)


def _slack_code_block(text: str, limit: int) -> str:
    """The end of `text` as a Slack code block of at most about `limit` characters, escaped,
    with a zero-width space between any two backticks so the text cannot close the block."""
    start, size = len(text), 0
    while start:
        char = text[start - 1]
        cost = 2 if char == "`" else len(slack_escape(char))
        if size + cost > limit:
            break
        start, size = start - 1, size + cost
    body = re.sub("`(?=`)", "`" + ZERO_WIDTH_SPACE, slack_escape(text[start:]))
    if body.startswith("`"):
        body = ZERO_WIDTH_SPACE + body
    if body.endswith("`"):
        body += ZERO_WIDTH_SPACE
    return f"```{body}```"


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else durations.moment(moment)


def _hours(hours: float) -> str:
    """A span given in hours, in timefmt's words ("1 h 30 min"), as everywhere else."""
    return durations.duration(timedelta(hours=hours))


def _exit(exit_status: int) -> str:
    """ "3", or for a killed run "137 (killed by signal 9, SIGKILL)"."""
    killed = signal_of(exit_status)
    if killed is None:
        return str(exit_status)
    number, name = killed
    return f"{exit_status} (killed by signal {number}, {name})"


def _headline(alert: JobAlert) -> str:
    if alert.flapping_incidents and alert.kind != "recovery":
        window = _hours(alert.flap_window_hours or 0)
        return (
            f"{alert.job_name} is FLAPPING: {alert.flapping_incidents} incidents in {window}, "
            f"now {alert.kind.upper()}"
        )
    if alert.kind == "down":
        overdue = _hours(alert.overdue_hours or 0)
        return f"{alert.job_name} is DOWN: no heartbeat, {overdue} overdue"
    if alert.kind == "failed":
        return f"{alert.job_name} FAILED"
    if alert.kind == "hung":
        return f"{alert.job_name} started but has not finished"
    if alert.kind == "recovery":
        downtime = alert.downtime_hours
        after = f" after {_hours(downtime)}" if downtime is not None else ""
        return f"{alert.job_name} is back up{after}"
    return f"{alert.job_name}: {alert.kind}"


def _facts(alert: JobAlert) -> list[tuple[str, str]]:
    """The message's facts in order of use at 3 a.m. (Slack shows the first ten)."""
    facts = [("Job", alert.job_name), ("State", STATE_WORDS.get(alert.kind, alert.kind))]
    if alert.due_at is not None and alert.kind == "down":
        facts.append(("Expected by", _when(alert.due_at)))
    if alert.overdue_hours is not None:
        facts.append(("Overdue", _hours(alert.overdue_hours)))
    if alert.kind == "hung" and alert.started_at is not None:
        running = _hours(alert.running_hours or 0)
        facts.append(("Running for", f"{running} (started {_when(alert.started_at)})"))
        facts.append(("Should have finished by", _when(alert.run_deadline)))
    if alert.exit_status is not None and alert.kind == "failed":
        facts.append(("Exit status", _exit(alert.exit_status)))
    if alert.schedule:
        facts.append(("Schedule", alert.schedule))
    facts.append(("Last run", _when(alert.last_run_at)))
    facts.append(("Last successful run", _when(alert.last_success_at)))
    if alert.duration is not None:
        facts.append(("Run duration", durations.duration(alert.duration)))
    if alert.host:
        facts.append(("Reported from", alert.host))
    if alert.status:
        facts.append(("Reported status", alert.status))
    facts.append(
        ("Last alert", _when(alert.last_alert_at) if alert.last_alert_at else "never alerted")
    )
    if alert.last_event:
        facts.append(("Last event", alert.last_event))
    return facts


def format_job_alert(alert: JobAlert) -> Message:
    """One job's problem or recovery as plain text, HTML and Slack Block Kit."""
    headline = _headline(alert)
    facts = _facts(alert)
    url = job_admin_url(alert.job_name)
    text_lines = [headline, *(f"{k}: {v}" for k, v in facts), f"Details: {url}"]
    if alert.output_tail:
        text_lines += ["", "Output (last lines):", alert.output_tail]
    rows = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in facts
    )
    tail = f"<pre>{html.escape(alert.output_tail)}</pre>" if alert.output_tail else ""
    body = (
        f"<h2>{html.escape(headline)}</h2><table>{rows}</table>{tail}"
        f"<p><a href='{html.escape(url)}'>Open {html.escape(alert.job_name)}</a></p>"
    )
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _slack_header(headline)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{k}*\n{_slack_clip(slack_escape(v), 1900)}"}
                for k, v in facts[:10]
            ],
        },
    ]
    if alert.output_tail:
        snippet = _slack_code_block(alert.output_tail, 2800)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": snippet}})
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": f"<{url}|Open in cronmonitor>"}}
    )
    return Message(
        subject=f"[cronmonitor] {headline}", text="\n".join(text_lines), html=body, blocks=blocks
    )


def _slack_job_links(alerts: Sequence[JobAlert], *, limit: int = 2900, most: int = 40) -> str:
    """One admin link per job, labelled with its escaped headline, as many as fit whole."""
    lines: list[str] = []
    size = 0
    for alert in alerts[:most]:
        line = f"• <{job_admin_url(alert.job_name)}|{slack_escape(_headline(alert))}>"
        if size + len(line) + 1 > limit - 40:  # room for the "…and N more" line
            break
        lines.append(line)
        size += len(line) + 1
    if len(lines) < len(alerts):
        lines.append(f"…and {len(alerts) - len(lines)} more")
    return "\n".join(lines)


def digest_headline(alerts: Sequence[JobAlert]) -> str:
    """What a digest holds, by kind: "3 jobs down, 2 back up"."""
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.kind] = counts.get(alert.kind, 0) + 1
    parts = []
    for kind, words in [*DIGEST_WORDS.items(), *((k, k) for k in counts if k not in DIGEST_WORDS)]:
        if counts.get(kind):
            noun = "" if parts else (" job" if counts[kind] == 1 else " jobs")
            parts.append(f"{counts[kind]}{noun} {words}")
    return ", ".join(parts)


def format_digest(alerts: Sequence[JobAlert]) -> Message:
    """Many jobs in one message, so a storm is one notification per channel."""
    headline = digest_headline(alerts)
    lines = [f"- {_headline(a)} ({job_admin_url(a.job_name)})" for a in alerts]
    items = "".join(
        f"<li><a href='{html.escape(url)}'>{html.escape(_headline(a))}</a></li>"
        for a, url in ((a, job_admin_url(a.job_name)) for a in alerts)
    )
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": headline}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_job_links(alerts)}},
    ]
    return Message(
        subject=f"[cronmonitor] {headline}",
        text="\n".join([headline, *lines]),
        html=f"<h2>{html.escape(headline)}</h2><ul>{items}</ul>",
        blocks=blocks,
    )


def format_notice(title: str, body: str) -> Message:
    """A message about the monitor itself (test alert, suspected monitoring outage)."""
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": _slack_header(title)}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _slack_clip(slack_escape(body), 2900)},
        },
    ]
    return Message(
        subject=f"[cronmonitor] {title}",
        text=f"{title}\n\n{body}",
        html=f"<h2>{html.escape(title)}</h2><p>{html.escape(body)}</p>",
        blocks=blocks,
    )
