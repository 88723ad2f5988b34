"""A URL setting that would fail at send time or make broken links is refused at start, in one
line that never quotes a webhook URL (its path is its secret)."""

from __future__ import annotations

import pytest

from tests.settings_support import read_settings, refusal

SECRET = "T0/B0/hunter2secret"
HTTP_URL = "must be an https:// or http:// URL with a host"
BASE_URL = f"{HTTP_URL} and no query or fragment"
URLS = ("SITE_URL", "RESEND_API_URL", "SLACK_WEBHOOK_URL", "CSRF_TRUSTED_ORIGINS")


@pytest.mark.parametrize(
    "url",
    [
        f"hooks.slack.com/services/{SECRET}",  # no scheme
        f"ftp://hooks.slack.com/services/{SECRET}",
        f"https:///services/{SECRET}",  # no host
        f"https://hooks.slack.com:443x/services/{SECRET}",  # a port that is not a number
        f"https://hooks.slack.com/services/{SECRET} https://x",  # two pasted into one
    ],
)
def test_a_webhook_that_is_not_an_http_url_is_refused_without_quoting_it(monkeypatch, url):
    line = refusal(monkeypatch, "SLACK_WEBHOOK_URL", HTTP_URL, SLACK_WEBHOOK_URL=url)
    assert "hunter2secret" not in line
    assert "query" not in line  # a webhook's query string is its own business


@pytest.mark.parametrize(
    "name, url",
    [
        ("SITE_URL", "cron.example.com"),
        ("SITE_URL", "https://cron.example.com/?next=/"),  # links are the URL plus a path
        ("RESEND_API_URL", "https://api.resend.com#v1"),
        ("RESEND_API_URL", "http://api.resend.com:0"),
    ],
)
def test_a_base_url_without_scheme_or_host_or_with_a_query_is_refused(monkeypatch, name, url):
    refusal(monkeypatch, name, BASE_URL, **{name: url})


@pytest.mark.parametrize(
    "origin", ["cron.example.com", "https://cron.example.com/", "https://cron.example.com/admin"]
)
def test_a_trusted_origin_with_no_scheme_or_with_a_path_is_refused(monkeypatch, origin):
    line = refusal(
        monkeypatch,
        "CSRF_TRUSTED_ORIGINS",
        "such as https://cron.example.com (scheme and host, no path)",
        CSRF_TRUSTED_ORIGINS=f"https://ok.example.com,{origin}",
    )
    assert line.endswith(f"not {origin!r}")


def test_good_urls_are_read_base_urls_without_their_trailing_slash(monkeypatch):
    read = read_settings(
        monkeypatch,
        SITE_URL=" https://example.com/cron/ ",
        RESEND_API_URL="http://[::1]:8025/",
        SLACK_WEBHOOK_URL="https://hooks.slack.com/services/T0/B0/x?thread=1",
        CSRF_TRUSTED_ORIGINS="https://*.example.com, http://localhost:8000",
    )
    assert [read[name] for name in URLS] == [
        "https://example.com/cron",
        "http://[::1]:8025",
        "https://hooks.slack.com/services/T0/B0/x?thread=1",
        ["https://*.example.com", "http://localhost:8000"],
    ]


def test_blank_base_urls_mean_the_defaults_and_a_blank_webhook_means_no_slack(monkeypatch):
    read = read_settings(monkeypatch, SITE_URL=" ", RESEND_API_URL="", SLACK_WEBHOOK_URL="")
    assert [read[name] for name in URLS[:3]] == [
        "http://127.0.0.1:8000",
        "https://api.resend.com",
        "",
    ]
