"""Job tags: stored normalised, validated, and found by one rule in Python and in SQL."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from heartbeats.domain import tags
from heartbeats.models import JobHeartbeat
from tests.admin_support import as_shown, change_url, changelist_names, staff_client

CHANGELIST = "admin:heartbeats_jobheartbeat_changelist"


def test_tags_are_stored_once_each_in_their_first_order():
    assert tags.normalize("  db nightly\tdb  Prod ") == "db nightly Prod"
    assert tags.normalize("") == ""


@pytest.mark.parametrize(
    ("text", "error"),
    [("db bad,tag", "Tag 'bad,tag' is not"), (" ".join(f"t{n}" for n in range(200)), "at most")],
)
def test_a_bad_tag_is_refused_with_a_reason(text, error):
    with pytest.raises(ValidationError, match=error):
        tags.normalize(text)


@pytest.mark.django_db
def test_has_tag_matches_whole_words_case_sensitively_in_python_and_sql(make_job):
    stored = {"a": "db nightly", "b": "db-nightly", "c": "DB", "d": "nightly db", "e": "x.db"}
    for name, text in stored.items():
        make_job(name, tags=text)
    for tag in ("db", "nightly", "DB", "db-nightly", ".db", "d.", "x.db"):
        python = {name for name, text in stored.items() if tags.has_tag(text, tag)}
        sql = set(
            JobHeartbeat.objects.filter(tags.has_tag_q(tag)).values_list("job_name", flat=True)
        )
        assert sql == python, tag
    assert tags.has_tag("db nightly", "db") and not tags.has_tag("db-nightly", "db")


@pytest.fixture
def editor(db, make_job):
    return staff_client("view_jobheartbeat", "change_jobheartbeat"), make_job("backup")


def test_the_admin_saves_normalised_tags_and_refuses_a_bad_one(editor):
    client, job = editor
    response = client.post(change_url(job), as_shown(client, job, tags=" db  nightly db "))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.tags == "db nightly"
    response = client.post(change_url(job), as_shown(client, job, tags="db bad,tag"))
    assert response.status_code == 200
    assert "Tag &#x27;bad,tag&#x27; is not" in response.content.decode()
    job.refresh_from_db()
    assert job.tags == "db nightly"


def test_the_job_list_filters_and_searches_by_tag(editor, make_job):
    client, _ = editor
    make_job("nightly-dump", tags="db nightly")
    make_job("replica-check", tags="db")
    make_job("report", tags="reports nightly")
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert 'href="?tag=nightly"' in page and 'href="?tag=reports"' in page

    def shown(query: str) -> set[str]:
        return set(changelist_names(client, query))

    assert shown("?tag=db") == {"nightly-dump", "replica-check"}
    assert shown("?tag=nightly&q=report") == {"report"}
    assert shown("?q=reports") == {"report"}
