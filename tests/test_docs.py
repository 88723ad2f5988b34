"""The README and docs/ point at things that exist: files, headings, commands and pages."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.management import get_commands
from django.urls import Resolver404, resolve

ROOT = settings.BASE_DIR
# Paths the app serves, as the docs write them (not `docs/admin.md`, not `/ping/<uuid>`).
PAGE_PATH = r"(?<![a-z])(/(?:admin|summary|metrics|healthz)[\w./-]*)"
PAGES = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_relative_links_reach_a_file_and_heading():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:]*)(?:#([^)]*))?\)", page.read_text()):
            path, anchor = target
            linked = (page.parent / path).resolve() if path else page
            if not linked.is_file() or (anchor and anchor not in anchors(linked.read_text())):
                broken.append(f"{page.name}: {path}#{anchor}")
    assert broken == []


def test_documented_commands_exist():
    named = {
        name for page in PAGES for name in re.findall(r"manage\.py ([a-z_]+)", page.read_text())
    }
    assert {"beat", "run_healthcheck", "crontab", "prune_heartbeats"} <= named
    assert sorted(named - set(get_commands())) == []


def test_documented_pages_resolve():
    paths = {path for page in PAGES for path in re.findall(PAGE_PATH, page.read_text())}
    assert {"/summary/", "/summary.json", "/metrics", "/healthz"} <= paths
    unresolved = []
    for path in sorted(paths):
        try:
            resolve(path)
        except Resolver404:
            unresolved.append(path)
    assert unresolved == []
