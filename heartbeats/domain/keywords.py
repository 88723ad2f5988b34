"""Which signal a ping is when its job looks at it first, as Healthchecks classifies pings:
POST as the only allowed method, and keywords in the body (`filter_body`)."""

from __future__ import annotations

from heartbeats.models import EventKind, JobHeartbeat


def keywords(text: str) -> list[str]:
    """A comma-separated keyword list, each keyword stripped, empty ones dropped."""
    return [word.strip() for word in text.split(",") if word.strip()]


def is_held(job: JobHeartbeat, *, method: str) -> bool:
    """Whether the job's settings decide this ping's signal: the twin of `signal_sql.HELD_SQL`."""
    return job.filter_body or (job.methods == "POST" and method != "POST")


def classify(job: JobHeartbeat, *, kind: str, body: str, method: str) -> str:
    """The signal a held ping records: ignored for a method the job does not allow; with the
    body filter, a failure, success or start by the first list (in that order) with a keyword
    in the body, else ignored. A log stays a log."""
    if job.methods == "POST" and method != "POST":
        return EventKind.IGNORED
    if kind == EventKind.LOG or not job.filter_body:
        return kind
    for found, words in (
        (EventKind.FAIL, job.failure_kw),
        (EventKind.SUCCESS, job.success_kw),
        (EventKind.START, job.start_kw),
    ):
        if any(word in body for word in keywords(words)):
            return found
    return EventKind.IGNORED
