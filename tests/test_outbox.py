"""The outbox's durable steps on their own: claiming under a lease, renewing, releasing,
recording one message's result, expiring news that is no longer true and closing what is
settled. Rows are checked as the admin and the next pass read them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from heartbeats.alerts import outbox
from heartbeats.alerts.transports import DeliveryError
from heartbeats.models import Alert, AlertDelivery, ChannelStatus, JobHeartbeat
from tests.conftest import T0

pytestmark = pytest.mark.django_db

M = timedelta(minutes=1)
LEASE = timedelta(seconds=300)  # ALERT_DELIVERY_LEASE_SECONDS' default


def claimed(delivery: AlertDelivery) -> tuple:
    delivery.refresh_from_db()
    return delivery.state, delivery.lease_until, delivery.attempts, delivery.updated_at


def test_a_claim_leases_the_due_deliveries_and_counts_the_attempt(make_job, make_alert, clock):
    due = make_alert(make_job("backup"), channels=["slack"]).deliveries.get()
    make_alert(make_job("later"), channels=["slack"], next_attempt_at=T0 + M)
    make_alert(make_job("sent"), channels=["slack"], state="sent")
    now = clock.advance(minutes=1)
    batch, lease_until = outbox.claim(now=T0)
    assert (batch, lease_until) == ([due], now + LEASE)
    assert claimed(due) == ("pending", now + LEASE, 1, now)
    assert outbox.claim(now=T0)[0] == []  # ours while the lease holds
    clock.advance(seconds=301)
    assert outbox.claim(now=T0)[0] == [due]  # lapsed: the next pass takes it over
    assert claimed(due)[2] == 2


def test_a_lease_is_renewed_once_half_of_it_is_used(make_job, make_alert, clock):
    delivery = make_alert(make_job(), channels=["slack"]).deliveries.get()
    _, lease_until = outbox.claim(now=T0)
    clock.advance(seconds=149)
    assert outbox.renew([delivery.id], lease_until) == lease_until
    renewed = outbox.renew([delivery.id], lease_until) if clock.advance(seconds=1) else None
    assert renewed == T0 + LEASE / 2 + LEASE
    assert claimed(delivery)[1] == renewed


def test_a_released_delivery_is_due_again_with_its_attempt_uncounted(make_job, make_alert, clock):
    make_alert(make_job(), channels=["slack"])
    batch, lease_until = outbox.claim(now=T0)
    outbox.release(batch, lease_until)
    delivery = AlertDelivery.objects.get()
    assert (delivery.lease_until, delivery.attempts) == (None, 0)
    assert outbox.claim(now=T0)[0] == [delivery]


def test_a_release_never_hands_back_a_lease_another_pass_took_over(make_job, make_alert, clock):
    make_alert(make_job(), channels=["slack"])
    batch, lapsed = outbox.claim(now=T0)
    clock.advance(seconds=301)
    _, lease_until = outbox.claim(now=T0)
    outbox.release(batch, lapsed)
    assert claimed(AlertDelivery.objects.get())[1:3] == (lease_until, 2)


def test_a_sent_message_clears_its_earlier_error_and_closes_and_marks_its_alert(
    make_job, make_alert, clock
):
    alert = make_alert(make_job(), channels=["slack"], last_error="slack: HTTP 503 (busy)")
    batch, lease_until = outbox.claim(now=T0)
    sent_at = T0 + M  # the pass's time, not the clock's
    outbox.record_message(batch, None, now=sent_at, lease_until=lease_until, channel_broken=None)
    delivery = alert.deliveries.get()
    assert (delivery.state, delivery.sent_at, delivery.lease_until) == ("sent", sent_at, None)
    assert (delivery.last_error, delivery.updated_at) == ("", sent_at)
    alert.refresh_from_db()
    assert alert.done
    job = JobHeartbeat.objects.get()
    assert (job.alerted, job.last_alert_at) == (True, sent_at)


def test_a_permanent_error_fails_the_delivery(make_job, make_alert, clock):
    alert = make_alert(make_job(), channels=["slack"])
    batch, lease_until = outbox.claim(now=T0)
    error = DeliveryError("HTTP 404 (no_service)", service="slack", permanent=True)
    outbox.record_message(batch, error, now=T0 + M, lease_until=lease_until, channel_broken=None)
    delivery = alert.deliveries.get()
    assert (delivery.state, delivery.lease_until, delivery.last_error, delivery.updated_at) == (
        "failed", None, "slack: HTTP 404 (no_service)", T0 + M,
    )  # fmt: skip


@pytest.mark.parametrize(("attempts", "wait"), [(3, 8 * M), (7, 60 * M)])
def test_a_temporary_error_waits_twice_as_long_each_attempt_at_most_an_hour(
    make_job, make_alert, clock, settings, attempts, wait
):
    settings.ALERT_MAX_ATTEMPTS = 10
    alert = make_alert(make_job(), channels=["slack"], attempts=attempts - 1)
    batch, lease_until = outbox.claim(now=T0)
    error = DeliveryError("HTTP 503 (busy)", service="slack")
    outbox.record_message(batch, error, now=T0 + M, lease_until=lease_until, channel_broken=None)
    delivery = alert.deliveries.get()
    assert (delivery.state, delivery.next_attempt_at, delivery.lease_until) == (
        "pending", T0 + M + wait, None,
    )  # fmt: skip
    assert (delivery.last_error, delivery.updated_at) == ("slack: HTTP 503 (busy)", T0 + M)


def test_a_temporary_error_fails_what_is_out_of_attempts_and_retries_the_rest(
    make_job, make_alert, clock, settings
):
    settings.ALERT_MAX_ATTEMPTS = 3
    spent = make_alert(make_job("spent"), channels=["slack"], attempts=2).deliveries.get()
    fresh = make_alert(make_job("fresh"), channels=["slack"]).deliveries.get()
    batch, lease_until = outbox.claim(now=T0)
    error = DeliveryError("HTTP 503 (busy)", service="slack")
    outbox.record_message(batch, error, now=T0, lease_until=lease_until, channel_broken=None)
    assert claimed(spent)[:2] == ("failed", None)
    assert claimed(fresh)[:2] == ("pending", None)
    assert fresh.next_attempt_at == T0 + 2 * M


def test_a_delivery_that_gets_through_heals_its_channel_only(make_job, make_alert, clock):
    for channel in ("slack", "email"):
        ChannelStatus.objects.create(channel=channel, broken_since=T0 - M, last_error="HTTP 404")
    make_alert(make_job(), channels=["slack"])
    batch, lease_until = outbox.claim(now=T0)
    outbox.record_message(batch, None, now=T0, lease_until=lease_until, channel_broken=False)
    status = dict(ChannelStatus.objects.values_list("channel", "last_error"))
    assert status == {"slack": "", "email": "HTTP 404"}
    assert ChannelStatus.objects.get(channel="slack").broken_since is None


def test_a_job_is_marked_alerted_as_of_the_latest_sending(make_job, make_alert, clock):
    alert = make_alert(make_job(), state="sent")
    for channel, sent_at in (("slack", T0 - 2 * M), ("email", T0 - M)):
        alert.deliveries.filter(channel=channel).update(sent_at=sent_at)
    outbox.close_settled()
    assert JobHeartbeat.objects.get().last_alert_at == T0 - M


def test_news_no_longer_true_expires_once_no_checker_is_sending_it(make_job, make_alert, clock):
    """A problem alert for a job that succeeded since; not while another checker holds it."""
    recovered = make_job("backup")
    alert = make_alert(recovered, channels=["slack"], lease_until=T0 + M)
    other = make_alert(make_job("other", age=2 * M), channels=["slack"]).deliveries.get()
    JobHeartbeat.objects.filter(pk="backup").update(last_run_at=T0, last_outcome="success")
    assert outbox.expire_recovered(now=T0) == set()
    assert outbox.expire_recovered(now=T0 + 2 * M) == {alert.id}
    delivery = alert.deliveries.get()
    assert (delivery.state, delivery.updated_at, delivery.lease_until) == (
        "expired", T0 + 2 * M, None,
    )  # fmt: skip
    assert claimed(other)[0] == "pending"


def test_a_failed_alert_stays_while_the_job_keeps_failing(make_job, make_alert, clock):
    job = make_job("backup")
    make_alert(job, kind="failed", channels=["slack"])
    JobHeartbeat.objects.filter(pk="backup").update(last_run_at=T0, last_outcome="failed")
    assert outbox.expire_recovered(now=T0) == set()


def test_a_back_up_notice_stays_while_the_job_keeps_running(make_job, make_alert, clock):
    """Dropped only when its own job is alerted again, not another job nor its next run."""
    make_alert(make_job("backup"), kind="recovery", channels=["slack"])
    JobHeartbeat.objects.filter(pk="backup").update(last_run_at=T0, last_outcome="success")
    make_alert(make_job("other", age=2 * M))
    Alert.objects.filter(job="other").update(created_at=T0)  # a later problem, of another job
    assert outbox.expire_recovered(now=T0) == set()


def test_waiting_retries_counts_pending_deliveries_not_due_yet(make_job, make_alert, clock):
    make_alert(make_job("waiting"), channels=["slack"], next_attempt_at=T0 + 2 * M)
    make_alert(make_job("due"), channels=["slack"])
    make_alert(make_job("silenced"), channels=["slack"], state="expired", next_attempt_at=T0 + M)
    assert outbox.waiting_retries(now=T0) == (1, T0 + 2 * M)
