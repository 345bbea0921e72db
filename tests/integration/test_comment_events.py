"""A comment is a ``feature.comment`` event (SPEC §9, §10): in the feed with the comment it
carries, filtered by type and feature, and delivered to a webhook subscribed to it by the
real worker to a real receiver on loopback, signed; none for a comment refused."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from feature_gateway.services import webhooks
from tests.conftest import bearer
from tests.integration.test_webhook_delivery import SETTINGS, deliveries, run
from tests.webhook_receiver import Receiver, receiving

READ = "user_role=developer"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


def post_comment(client, name, body="Please add a 28-day window", headers=None, **fields):
    payload = {"body": body, "author": "carol", "user_role": "approver", **fields}
    payload = {k: v for k, v in payload.items() if v is not None}
    response = client.post(f"/features/{name}/comments", json=payload, headers=headers or {})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["comment"]


def test_a_comment_is_a_feature_comment_event_in_the_feed_carrying_the_comment(
    client, make_feature
):
    feature = make_feature("READY_FOR_TESTING")
    name = feature["feature_name"]
    created = post_comment(client, name)
    events = client.get(f"/events?{READ}").get_json()["events"]
    assert [e["type"] for e in events] == ["feature.create", "feature.submit", "feature.comment"]
    event = events[-1]
    assert event == {
        "id": event["id"],
        "type": "feature.comment",
        "feature_name": name,
        "revision": feature["revision"],
        "action": "comment",
        "actor": "carol",
        "actor_role": "approver",
        "authenticated": False,
        "credential": None,
        "timestamp": created["created_time"],
        "previous_status": "READY_FOR_TESTING",
        "new_status": "READY_FOR_TESTING",
        "fields": {},
        "comment": {"comment_id": created["comment_id"], "body": created["body"]},
    }
    assert "comment" not in events[0]


def test_the_feed_filters_comments_by_type_and_feature(client, make_feature):
    first = make_feature()["feature_name"]
    second = make_feature("TEST_SUCCEEDED")["feature_name"]
    post_comment(client, first, "on the first")
    post_comment(client, second, "on the second")
    comments = client.get(f"/events?{READ}&type=feature.comment").get_json()["events"]
    assert [e["comment"]["body"] for e in comments] == ["on the first", "on the second"]
    of_second = client.get(f"/events?{READ}&type=feature.comment&feature_name={second}")
    assert [e["comment"]["body"] for e in of_second.get_json()["events"]] == ["on the second"]


def test_a_refused_comment_is_no_event(client, make_feature):
    name = make_feature()["feature_name"]
    before = client.get(f"/events?{READ}").get_json()["events"]
    bad = {"body": " ", "author": "carol", "user_role": "approver"}
    assert client.post(f"/features/{name}/comments", json=bad).status_code == 422
    assert client.get(f"/events?{READ}").get_json()["events"] == before


def test_a_token_comment_event_names_the_verified_principal(
    token_client, make_feature, issue_token
):
    name = make_feature()["feature_name"]
    token = issue_token("external_testing_system", principal="quinn")
    headers = bearer(token)
    post_comment(
        token_client, name, "verified remark", headers=headers, author=None, user_role=None
    )
    response = token_client.get("/events?type=feature.comment", headers=headers)
    (event,) = response.get_json()["events"]
    assert (event["actor"], event["actor_role"], event["authenticated"]) == (
        "quinn",
        "external_testing_system",
        True,
    )
    assert event["credential"] == f"token:{token.split('_')[1]}"


def test_a_comment_is_delivered_to_a_webhook_subscribed_to_feature_comment(
    database, receiver, client, make_feature
):
    created = webhooks.create_webhook(
        database, url=receiver.url + "/chat", event_types=["feature.comment"],
        created_by="root", allow_loopback=True,
    )  # fmt: skip
    name = make_feature("TEST_SUCCEEDED")["feature_name"]  # three events it does not want
    comment = post_comment(client, name, "Approving once the backfill finishes")
    assert run(database, SETTINGS) == 1
    (request,) = receiver.received
    assert request.path == "/chat"
    sent = StandardWebhook(created.secret).verify(request.body, request.headers)
    (event,) = client.get(f"/events?{READ}&type=feature.comment").get_json()["events"]
    assert json.loads(request.body) == event == sent
    assert request.headers["webhook-id"] == event["id"]
    assert sent["comment"] == {
        "comment_id": comment["comment_id"],
        "body": "Approving once the backfill finishes",
    }
    (delivery,) = deliveries(database, created.webhook.webhook_id)
    assert (delivery.event_type, delivery.state) == ("feature.comment", "delivered")


def test_a_webhook_not_subscribed_to_comments_gets_none(database, receiver, client, make_feature):
    webhooks.create_webhook(
        database, url=receiver.url, event_types=["feature.approve"], created_by="root",
        allow_loopback=True,
    )  # fmt: skip
    name = make_feature()["feature_name"]
    post_comment(client, name)
    assert run(database, SETTINGS) == 0
    assert receiver.received == []
