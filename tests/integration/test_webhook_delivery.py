"""The delivery worker end to end, in this process, against a real receiver on loopback:
signed as Standard Webhooks says (checked with the ``standardwebhooks`` package), filtered
by event type, retried with the same webhook-id after 5xx and timeouts, failed after the
last attempt, redelivered on request, nothing for a rolled-back change or after deletion,
410 Gone deactivates, the target checked again after DNS resolution."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from feature_gateway.config import Settings
from feature_gateway.db.models import Feature
from feature_gateway.domain.changes import ChangeAction
from feature_gateway.domain.webhooks import signature
from feature_gateway.errors import FeatureAlreadyExistsError
from feature_gateway.services import webhooks
from feature_gateway.services.webhook_worker import Worker
from tests.webhook_receiver import Receiver, receiving

SETTINGS = Settings(
    webhook_allow_loopback=True,
    # One deadline for the whole attempt (connect, send, answer): room for a loaded CI
    # machine, where the receiver's thread can wait its turn for half a second.
    webhook_timeout_s=5,
    webhook_retry_base_s=0.01,
    webhook_max_attempts=3,
)
# For the tests of the timeout itself.
SHORT_TIMEOUT = dataclasses.replace(SETTINGS, webhook_timeout_s=0.5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


@pytest.fixture
def subscribe(database, receiver):
    def make(*event_types: str, path: str = "/hook") -> webhooks.NewWebhook:
        return webhooks.create_webhook(
            database, url=receiver.url + path, event_types=event_types or ["*"],
            created_by="root", allow_loopback=True,
        )  # fmt: skip

    return make


def run(database, settings=SETTINGS, **kwargs) -> int:
    return Worker(database, settings, **kwargs).run(once=True)


def deliveries(database, webhook_id):
    page = webhooks.list_deliveries(database, webhook_id, state=None, limit=100, offset=0)
    return list(reversed(page.deliveries))  # oldest first


def test_an_event_is_delivered_signed_as_standard_webhooks_say(
    database, receiver, subscribe, make_feature, client
):
    created = subscribe()
    feature = make_feature()
    assert run(database) == 1
    (request,) = receiver.received
    (event,) = client.get("/events?user_role=developer").get_json()["events"]
    assert json.loads(request.body) == event
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == event["id"]
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5
    # An independent implementation accepts the signature (it raises otherwise)...
    verified = StandardWebhook(created.secret).verify(request.body, request.headers)
    assert verified["feature_name"] == feature["feature_name"]
    # ...and refuses it for another body or another secret.
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(created.secret).verify(request.body + b" ", request.headers)
    other = webhooks.create_webhook(
        database, url=receiver.url, event_types=["feature.retire"], created_by="x",
        allow_loopback=True,
    )  # fmt: skip
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(other.secret).verify(request.body, request.headers)
    timestamp = int(request.headers["webhook-timestamp"])
    assert request.headers["webhook-signature"] == signature(
        created.secret, event["id"], timestamp, request.body
    )
    (delivery,) = deliveries(database, created.webhook.webhook_id)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_time is not None and delivery.next_attempt_time is None
    assert run(database) == 0  # nothing is sent twice


def test_only_the_subscribed_event_types_are_sent(database, receiver, subscribe, make_feature):
    subscribe("feature.approve", "feature.deprecate")
    make_feature("DEPLOYED")
    make_feature("READY_FOR_TESTING")
    assert run(database) == 1
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["feature.approve"]


def test_a_5xx_is_retried_with_the_same_webhook_id_until_delivered(
    database, receiver, subscribe, make_feature
):
    created = subscribe()
    make_feature()
    receiver.answers = [(500, 0), (503, 0)]
    assert run(database) == 1
    (pending,) = deliveries(database, created.webhook.webhook_id)
    assert (pending.state, pending.attempts, pending.last_status_code) == ("pending", 1, 500)
    assert pending.last_error == "HTTP 500"
    time.sleep(0.05)
    run(database)
    time.sleep(0.05)
    run(database)
    assert len(set(receiver.ids())) == 1 and len(receiver.ids()) == 3
    (done,) = deliveries(database, created.webhook.webhook_id)
    assert (done.state, done.attempts, done.last_status_code) == ("delivered", 3, 200)


def test_a_timeout_is_a_failed_attempt_retried_with_the_same_webhook_id(
    database, receiver, subscribe, make_feature
):
    created = subscribe()
    make_feature()
    receiver.answers = [(200, 3.0)]  # far past the 0.5 s timeout
    started = time.monotonic()
    run(database, SHORT_TIMEOUT)
    assert time.monotonic() - started < 2.5  # it gave up at the timeout
    (pending,) = deliveries(database, created.webhook.webhook_id)
    assert pending.state == "pending" and "timed out" in pending.last_error
    time.sleep(0.05)
    run(database)
    assert len(receiver.ids()) == 2 and len(set(receiver.ids())) == 1
    assert deliveries(database, created.webhook.webhook_id)[0].state == "delivered"


def test_backoff_grows_and_the_last_attempt_fails_the_delivery(
    database, receiver, subscribe, make_feature
):
    created = subscribe()
    make_feature()
    receiver.default = (500, 0)
    settings = Settings(webhook_allow_loopback=True, webhook_retry_base_s=0.2,
                        webhook_max_attempts=3)  # fmt: skip
    for attempt in (1, 2, 3):
        before = time.time() * 1000
        run(database, settings)
        after = time.time() * 1000
        (row,) = deliveries(database, created.webhook.webhook_id)
        if attempt < 3:  # due base * 2**(attempt - 1) after the attempt, +-20 %
            nominal = 200 * 2 ** (attempt - 1)
            assert before + 0.8 * nominal <= row.next_attempt_time <= after + 1.2 * nominal
            time.sleep(max(row.next_attempt_time / 1000 - time.time(), 0) + 0.02)
    assert len(receiver.received) == 3
    (failed,) = deliveries(database, created.webhook.webhook_id)
    assert (failed.state, failed.attempts, failed.next_attempt_time) == ("failed", 3, None)
    assert run(database) == 0


def test_a_redelivery_sends_the_event_again_with_the_same_webhook_id(
    database, receiver, subscribe, make_feature
):
    created = subscribe()
    make_feature()
    run(database)
    (delivered,) = deliveries(database, created.webhook.webhook_id)
    webhooks.redeliver(database, created.webhook.webhook_id, delivered.delivery_id)
    assert run(database) == 1
    assert len(receiver.ids()) == 2 and len(set(receiver.ids())) == 1
    (again,) = deliveries(database, created.webhook.webhook_id)
    assert (again.state, again.attempts) == ("delivered", 1)


def test_nothing_is_sent_after_the_webhook_is_deleted(database, receiver, subscribe, make_feature):
    created = subscribe()
    make_feature()
    webhooks.delete_webhook(database, created.webhook.webhook_id)
    make_feature()
    assert run(database) == 0
    assert receiver.received == []


def test_a_change_that_rolls_back_queues_and_sends_nothing(
    database, receiver, subscribe, make_feature, connection
):
    subscribe()
    existing = make_feature()
    run(database)
    sent = len(receiver.received)
    # A second row with the same name: the unique key fails the commit, the whole
    # transaction (feature, change-log entry, outbox rows) rolls back.
    with pytest.raises(FeatureAlreadyExistsError), database.writing() as uow:
        twin = Feature(**{k: v for k, v in existing.items() if k in Feature.__table__.c})
        twin.canonical_name = existing["feature_name"].lower()
        uow.features.add(twin)
        uow.changes.track(twin, ChangeAction.CREATE, actor="dev", actor_role="developer",
                          timestamp=1, new=True)  # fmt: skip
        uow.commit()
    count = "SELECT count(*) FROM {}"
    assert connection.execute(text(count.format("webhook_deliveries"))).scalar_one() == 1
    assert connection.execute(text(count.format("feature_changes"))).scalar_one() == 1
    assert run(database) == 0 and len(receiver.received) == sent


def test_410_gone_deactivates_the_webhook_and_stops_its_deliveries(
    database, receiver, subscribe, make_feature
):
    created = subscribe()
    make_feature("READY_FOR_TESTING")
    receiver.answers = [(410, 0)]
    assert run(database) == 1  # the first event; the second waits, its webhook inactive
    assert webhooks.get_webhook(database, created.webhook.webhook_id).active is False
    first, second = deliveries(database, created.webhook.webhook_id)
    assert first.state == "failed" and "410" in first.last_error
    assert second.state == "pending"
    webhooks.redeliver(database, created.webhook.webhook_id, first.delivery_id)
    assert webhooks.get_webhook(database, created.webhook.webhook_id).active is True
    assert run(database) == 2


def webhook_on_a_name(database) -> webhooks.NewWebhook:
    """A webhook whose host is a name, for the tests to resolve as they like."""
    return webhooks.create_webhook(
        database, url="http://hooks.example.com/in", event_types=["*"], created_by="root",
        allow_loopback=False,
    )  # fmt: skip


@pytest.mark.parametrize("resolved", [["169.254.169.254"], ["127.0.0.1", "fe80::1"]])
def test_a_name_resolving_to_a_refused_address_is_not_contacted(
    database, receiver, make_feature, resolved
):
    created = webhook_on_a_name(database)
    make_feature()
    run(database, resolver=lambda host, port: resolved)
    (row,) = deliveries(database, created.webhook.webhook_id)
    assert row.state == "pending" and "link-local" in row.last_error
    assert receiver.received == []


@pytest.mark.parametrize(
    "resolved",
    ["fd00:ec2::254", "100.100.100.200", "0.0.0.0", "0.1.2.3", "100.64.0.1", "224.0.0.1",
     "255.255.255.255", "ff02::1", "::", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::",
     "::169.254.169.254", "::ffff:100.100.100.200"],
)  # fmt: skip
def test_a_name_resolving_to_an_always_refused_address_is_not_contacted_even_on_loopback(
    database, receiver, make_feature, resolved
):
    created = webhook_on_a_name(database)
    make_feature()
    run(database, resolver=lambda host, port: [resolved])  # loopback allowed
    (row,) = deliveries(database, created.webhook.webhook_id)
    assert (row.state, row.attempts, row.last_status_code) == ("pending", 1, None)
    assert row.last_error.startswith("target refused: ") and "never" in row.last_error
    assert receiver.received == []


def test_an_exception_out_of_one_attempt_is_that_attempts_failure_and_the_worker_goes_on(
    database, receiver, subscribe, make_feature
):
    created = subscribe()
    make_feature("READY_FOR_TESTING")  # two events

    def resolver(host, port):
        raise UnicodeError("label empty or too long")

    broken = webhooks.create_webhook(
        database, url="http://hooks.example.com/in", event_types=["*"], created_by="root",
        allow_loopback=False,
    )  # fmt: skip
    make_feature("READY_FOR_TESTING")  # two more, for both webhooks
    assert run(database, resolver=resolver) == 6
    assert [d.state for d in deliveries(database, created.webhook.webhook_id)] == ["delivered"] * 4
    for row in deliveries(database, broken.webhook.webhook_id):
        assert (row.state, row.attempts) == ("pending", 1)
        assert row.last_error == "UnicodeError: label empty or too long"


def test_loopback_resolved_at_delivery_is_refused_unless_allowed(database, make_feature):
    created = webhook_on_a_name(database)
    make_feature()
    run(database, Settings(), resolver=lambda host, port: ["127.0.0.1"])
    (row,) = deliveries(database, created.webhook.webhook_id)
    assert "Loopback" in row.last_error


def test_each_attempt_logs_one_json_line_without_secret_or_body(
    database, receiver, subscribe, make_feature, caplog
):
    created = subscribe()
    make_feature()
    receiver.answers = [(500, 0)]
    with caplog.at_level(logging.INFO, logger="feature_gateway.webhooks"):
        run(database)
        time.sleep(0.05)
        run(database)
    lines = [r for r in caplog.records if r.name == "feature_gateway.webhooks"]
    assert [(r.outcome, r.status_code, r.attempt) for r in lines] == [
        ("retry", 500, 1), ("delivered", 200, 2),
    ]  # fmt: skip
    body = receiver.received[0].body.decode()
    for record in lines:
        text_of = json.dumps(record.__dict__, default=str)
        assert created.secret.removeprefix("whsec_") not in text_of
        assert body not in text_of and "SELECT" not in text_of
        assert record.webhook_id == created.webhook.webhook_id


def test_a_worker_outlives_a_database_outage_and_once_mode_reports_it(tmp_path):
    import threading

    from feature_gateway.db.engine import make_engine
    from feature_gateway.db.scopes import Database
    from feature_gateway.errors import DatabaseUnavailableError

    missing = Settings(database_url=f"sqlite:///{tmp_path}/no-such-dir/db.sqlite",
                       webhook_poll_interval_s=0.05)  # fmt: skip
    engine = make_engine(missing)
    try:
        worker = Worker(Database(engine), missing)
        with pytest.raises(DatabaseUnavailableError):
            worker.run(once=True)
        result = []
        thread = threading.Thread(target=lambda: result.append(worker.run()))
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive()  # still trying, not crashed
        worker.stop()
        thread.join(timeout=5)
        assert result == [0]
    finally:
        engine.dispose()
