"""Alert messages: one job's alert, a digest and a notice, from the facts `content` gathers.

Email HTML and plain text come from the templates in templates/alerts/ (HTML autoescaped, text
under `{% autoescape off %}`); Slack's blocks from `slack_blocks`, which escapes for Slack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.template.loader import render_to_string

from heartbeats.alerts.slack_blocks import blocks as slack_blocks
from heartbeats.alerts.slack_blocks import slack_escape
from heartbeats.domain import durations
from heartbeats.domain.links import job_admin_url
from heartbeats.signals.command_wrapper import signal_of


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
    job_uuid: str = ""


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
    # The facts of each job alert in it, as decided (webhook and PagerDuty send them as data).
    facts: tuple[JobAlert, ...] = ()

    @property
    def slack_text(self) -> str:
        """`text` for Slack: it holds no markup of ours, so all of it is shown literally."""
        return slack_escape(self.slack_source or self.text)


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


def _rendered(title: str, template: str, context: dict, blocks: list[dict]) -> Message:
    """A message from its pair of templates (`template`.txt, `template`.html): the text without
    the newline that ends its file, the HTML autoescaped."""
    return Message(
        subject=f"[cronmonitor] {title}",
        text=render_to_string(f"alerts/{template}.txt", context).removesuffix("\n"),
        html=render_to_string(f"alerts/{template}.html", context),
        blocks=blocks,
    )


def format_job_alert(alert: JobAlert) -> Message:
    """One job's problem or recovery as plain text, HTML and Slack Block Kit."""
    headline = _headline(alert)
    facts = _facts(alert)
    url = job_admin_url(alert.job_name)
    context = {
        "headline": headline,
        "facts": facts,
        "url": url,
        "job_name": alert.job_name,
        "output_tail": alert.output_tail,
    }
    blocks = slack_blocks(headline, facts=facts, output=alert.output_tail, url=url)
    return _rendered(headline, "job_alert", context, blocks)


def digest_headline(alerts: Sequence[JobAlert]) -> str:
    """What a digest holds, by kind: "3 jobs down, 2 back up"."""
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.kind] = counts.get(alert.kind, 0) + 1
    parts: list[str] = []
    for kind, words in [*DIGEST_WORDS.items(), *((k, k) for k in counts if k not in DIGEST_WORDS)]:
        if counts.get(kind):
            noun = "" if parts else (" job" if counts[kind] == 1 else " jobs")
            parts.append(f"{counts[kind]}{noun} {words}")
    return ", ".join(parts)


def format_digest(alerts: Sequence[JobAlert]) -> Message:
    """Many jobs in one message, so a storm is one notification per channel."""
    headline = digest_headline(alerts)
    links = [(job_admin_url(a.job_name), _headline(a)) for a in alerts]
    context = {"headline": headline, "links": links}
    return _rendered(headline, "digest", context, slack_blocks(headline, links=links))


def format_notice(title: str, body: str) -> Message:
    """A message about the monitor itself (test alert, suspected monitoring outage)."""
    context = {"title": title, "body": body}
    return _rendered(title, "notice", context, slack_blocks(title, body=body))
