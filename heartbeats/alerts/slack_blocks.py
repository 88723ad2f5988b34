"""Slack's Block Kit for every message, and its escaping: the one place job input meets mrkdwn.

Slack's formatting docs ask for `&`, `<` and `>` to be escaped, so a job's name or output
cannot mention `<!channel>` or pass off a link; everything from a job is escaped here, once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
ZERO_WIDTH_SPACE = "\u200b"
# Slack's limits: a header's 150 characters, a field's 2000, a section's 3000.
HEADER_CHARS, FIELD_CHARS, SECTION_CHARS = 150, 1900, 2900
CODE_CHARS = 2800
# A digest's links: as many whole ones as fit, at most this many.
MOST_LINKS = 40


def slack_escape(text: str) -> str:
    """Text that Slack shows as it is."""
    return text.translate(SLACK_ESCAPES)


def blocks(
    title: str,
    *,
    facts: Sequence[tuple[str, str]] = (),
    body: str = "",
    links: Sequence[tuple[str, str]] = (),
    output: str = "",
    url: str = "",
) -> list[dict]:
    """A message's blocks, in this order: the title, the facts (Slack shows ten), a body, one
    link per (url, label), the output's end as a code block, a link to `url`."""
    built: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clipped(title, HEADER_CHARS)}}
    ]
    if facts:
        fields = [
            {"type": "mrkdwn", "text": f"*{label}*\n{_clipped(value, FIELD_CHARS)}"}
            for label, value in facts[:10]
        ]
        built.append({"type": "section", "fields": fields})
    sections = [
        _clipped(body, SECTION_CHARS) if body else "",
        _link_lines(links) if links else "",
        _code_block(output, CODE_CHARS) if output else "",
        f"<{url}|Open in cronmonitor>" if url else "",
    ]
    built += [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in sections if s]
    return built


def _clipped(text: str, limit: int) -> str:
    """`text` escaped, its first `limit` characters, without half an entity at the end."""
    escaped = slack_escape(text)
    if len(escaped) <= limit:
        return escaped
    clipped = escaped[:limit]
    amp = clipped.rfind("&")
    return clipped[:amp] if amp != -1 and ";" not in clipped[amp:] else clipped


def _code_block(text: str, limit: int) -> str:
    """The end of `text` as a code block of at most about `limit` characters, escaped, with a
    zero-width space between any two backticks so the text cannot close the block."""
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


def _link_lines(links: Sequence[tuple[str, str]]) -> str:
    """One link per line, labelled with its escaped label, as many as fit whole."""
    lines: list[str] = []
    size = 0
    for url, label in links[:MOST_LINKS]:
        line = f"• <{url}|{slack_escape(label)}>"
        if size + len(line) + 1 > SECTION_CHARS - 40:  # room for the "…and N more" line
            break
        lines.append(line)
        size += len(line) + 1
    if len(lines) < len(links):
        lines.append(f"…and {len(links) - len(lines)} more")
    return "\n".join(lines)
