"""A Slack message as Slack shows it, near enough for review: the Block Kit blocks a receiver
got, rendered to a small HTML page (header, fields, mrkdwn text, code blocks, links)."""

from __future__ import annotations

import html
import re

LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ font-family: Lato, Helvetica, Arial, sans-serif; font-size: 15px; background: #fff;
  margin: 24px; color: #1d1c1d; width: 720px; }}
.msg {{ display: flex; gap: 10px; }} .avatar {{ width: 36px; height: 36px; border-radius: 4px;
  background: #4a154b; color: #fff; text-align: center; line-height: 36px; font-weight: bold; }}
.who {{ font-weight: 900; }} .who small {{ color: #616061; font-weight: 400; margin-left: 6px; }}
h3 {{ font-size: 18px; margin: 6px 0; }} .fields {{ display: grid;
  grid-template-columns: 1fr 1fr; gap: 8px 16px; margin: 8px 0; }}
pre {{ background: #f8f8f8; border: 1px solid #ddd; border-radius: 4px; padding: 8px;
  font-size: 12px; white-space: pre-wrap; margin: 6px 0; }} a {{ color: #1264a3; }}
code {{ color: #e01e5a; background: #f8f8f8; }}
</style></head><body><div class="msg"><div class="avatar">cm</div><div>
<div class="who">cronmonitor<small>APP</small></div>{blocks}</div></div></body></html>"""


def mrkdwn(text: str) -> str:
    """Slack's mrkdwn to HTML; `text` is already Slack-escaped (&amp; &lt; &gt;)."""
    parts = re.split(r"```(.*?)```", text, flags=re.DOTALL)
    return "".join(f"<pre>{part}</pre>" if i % 2 else _inline(part) for i, part in enumerate(parts))


def _inline(text: str) -> str:
    """Links, bold and code spans; any other `<` or `>` is shown, not parsed."""
    pieces = LINK.split(text)  # text, url, label, text, url, label, ..., text
    out = []
    for index in range(0, len(pieces), 3):
        plain = pieces[index].replace("<", "&lt;").replace(">", "&gt;")
        plain = re.sub(r"\*(\S(?:[^*\n]*\S)?)\*", r"<b>\1</b>", plain)  # not "0 2 * * *"
        out.append(re.sub(r"`([^`\n]+)`", r"<code>\1</code>", plain).replace("\n", "<br>"))
        if index + 2 < len(pieces):
            out.append(f'<a href="{html.escape(pieces[index + 1])}">{pieces[index + 2]}</a>')
    return "".join(out)


def render(blocks: list[dict]) -> str:
    rendered = []
    for block in blocks:
        if block["type"] == "header":
            rendered.append(f"<h3>{block['text']['text']}</h3>")
        elif block["type"] == "section":
            if "text" in block:
                rendered.append(f"<div>{mrkdwn(block['text']['text'])}</div>")
            if "fields" in block:
                cells = "".join(f"<div>{mrkdwn(f['text'])}</div>" for f in block["fields"])
                rendered.append(f'<div class="fields">{cells}</div>')
        elif block["type"] == "context":
            texts = " ".join(mrkdwn(e.get("text", "")) for e in block["elements"])
            rendered.append(f'<div style="color:#616061;font-size:12px">{texts}</div>')
        elif block["type"] == "divider":
            rendered.append("<hr>")
    return PAGE.format(blocks="\n".join(rendered))
