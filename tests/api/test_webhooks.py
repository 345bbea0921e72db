"""Webhook management (SPEC §9): admin only, token mode only, the secret shown once, target
checks at creation, the outbox rows a change queues, deliveries listed and redelivered."""

import base64

import pytest
from flask import Flask
from sqlalchemy import text

from feature_gateway import create_app
from feature_gateway.domain.webhooks import SECRET_PREFIX
from tests.conftest import TEST_SECRET_KEY, bearer

WEBHOOK_FIELDS = {
    "webhook_id", "url", "event_types", "description", "created_time", "created_by", "active",
}  # fmt: skip
DELIVERY_FIELDS = {
    "delivery_id", "event_id", "event_type", "state", "attempts", "last_status_code",
    "last_error", "next_attempt_time", "delivered_time", "created_time",
}  # fmt: skip
HOOK = {"url": "https://hooks.example.com/in", "event_types": ["feature.approve"]}


@pytest.fixture
def admin(issue_token):
    return bearer(issue_token("admin", principal="root"))


@pytest.fixture
def loopback_client(database, migrated_database):
    app: Flask = create_app({
        "database": database, "database_url": migrated_database.url, "auth_mode": "token",
        "webhook_allow_loopback": True, "secret_key": TEST_SECRET_KEY, "TESTING": True,
    })  # fmt: skip
    return app.test_client()


def create(http, admin, status=201, **body):
    response = http.post("/webhooks", json={**HOOK, **body}, headers=admin)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_an_admin_creates_a_webhook_and_sees_its_secret_once(token_client, admin, connection):
    response = token_client.post("/webhooks", json={**HOOK, "description": "deploys"},
                                 headers=admin)  # fmt: skip
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    webhook, secret = body["webhook"], body["secret"]
    assert set(webhook) == WEBHOOK_FIELDS
    assert webhook | {"webhook_id": None, "created_time": None} == {
        "webhook_id": None, "url": HOOK["url"], "event_types": ["feature.approve"],
        "description": "deploys", "created_time": None, "created_by": "root", "active": True,
    }  # fmt: skip
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)) >= 24
    # Stored, as the worker must sign with it; never shown again.
    stored = connection.execute(
        text("SELECT secret FROM webhooks WHERE webhook_id = :id"), {"id": webhook["webhook_id"]}
    ).scalar_one()
    assert stored == secret
    for path in ("/webhooks", f"/webhooks/{webhook['webhook_id']}"):
        shown = token_client.get(path, headers=admin)
        assert shown.status_code == 200
        assert secret.removeprefix(SECRET_PREFIX) not in shown.get_data(as_text=True)
    assert token_client.get(f"/webhooks/{webhook['webhook_id']}", headers=admin).get_json() == {
        "webhook": webhook
    }
    assert token_client.get("/webhooks", headers=admin).get_json() == {"webhooks": [webhook]}


def test_two_webhooks_get_different_secrets_and_event_types_are_normalised(token_client, admin):
    one = create(token_client, admin, event_types=["feature.submit", "feature.create",
                                                   "feature.submit"])  # fmt: skip
    two = create(token_client, admin, event_types=["feature.approve", "*"])
    assert one["secret"] != two["secret"]
    assert one["webhook"]["event_types"] == ["feature.create", "feature.submit"]
    assert two["webhook"]["event_types"] == ["*"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/in", "file:///etc/passwd", "javascript:alert(1)",
        "https://user:pw@hooks.example.com/in", "https://user@hooks.example.com/in",
        "http://169.254.169.254/latest/meta-data", "http://[fe80::1]/", "http://[::ffff:169.254.169.254]/",
        "http://127.0.0.1:8080/", "http://[::1]/", "http://localhost/", "http://0.0.0.0/",
        "http://api.localhost/", "https://", "http://hooks.example.com:99999/", "not a url",
        "https://hooks.example.com/in#frag", "https://hooks.example.com/\nx",
    ],
)  # fmt: skip
def test_a_refused_target_is_422_naming_the_url(token_client, admin, url):
    body = create(token_client, admin, status=422, url=url)
    assert "url" in body["errors"]


# Each was accepted (201) and then ended the delivery worker at its first attempt: the
# delivery client could not parse it (SPEC §9: one parser for creation and delivery).
UNPARSABLE_URLS = [
    "http://010.0.0.1/", "http://192.168.01.1/", "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",
    "http://a..b.example/", f"http://{'a' * 64}.example/", "http://.example.com/",
    "http://xn--zz.example.com/", f"http://{'a.' * 126}example/",
]  # fmt: skip
# Numbers the resolver reads as an IPv4 address however they are written (127.1,
# 0x7f.1, 2130706433 are all 127.0.0.1): only the dotted-quad form is a target.
NUMERIC_HOSTS = ["http://127.1/", "http://0x7f.0.0.1/", "http://2130706433/", "http://1.2.3.4.5/"]


@pytest.mark.parametrize("url", UNPARSABLE_URLS + NUMERIC_HOSTS)
def test_a_url_the_delivery_client_cannot_parse_is_422_at_creation(
    token_client, loopback_client, admin, url
):
    for http in (token_client, loopback_client):
        body = create(http, admin, status=422, url=url)
        assert "url" in body["errors"]


# SPEC §9: refused always, with or without WEBHOOK_ALLOW_LOOPBACK; an IPv6 address that
# embeds an IPv4 one is judged by the IPv4 address.
ALWAYS_REFUSED = [
    "http://[fd00:ec2::254]/", "http://100.100.100.200/", "http://0.0.0.0/",
    "http://0.1.2.3/", "http://100.64.0.1/", "http://100.127.255.254/",
    "http://255.255.255.255/", "http://224.0.0.1/", "http://[ff02::1]/", "http://240.0.0.1/",
    "http://[::]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::1]/",
    "http://[::169.254.169.254]/", "http://[64:ff9b::6464:64c8]/", "http://[::ffff:0.0.0.0]/",
    "http://[2002:6440:1::]/", "http://[::ffff:100.100.100.200]/",
]  # fmt: skip


@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_metadata_reserved_and_embedding_targets_are_refused_even_with_loopback_allowed(
    token_client, loopback_client, admin, url
):
    for http in (token_client, loopback_client):
        body = create(http, admin, status=422, url=url)
        assert "url" in body["errors"]


@pytest.mark.parametrize(
    ("url", "status"),
    [("http://[64:ff9b::7f00:1]/", 422), ("http://[2002:7f00:1::]/", 422),
     ("http://[::127.0.0.1]/", 422), ("http://[64:ff9b::a00:1]/", 201),
     ("http://[2002:a00:1::]/", 201), ("http://[fd00:ec2::253]/", 201)],
)  # fmt: skip
def test_an_embedded_ipv4_address_is_judged_as_that_address(token_client, admin, url, status):
    create(token_client, admin, status=status, url=url)


@pytest.mark.parametrize(
    ("url", "status"),
    [("http://127.0.0.1:8080/in", 201), ("http://localhost:9/in", 201), ("http://[::1]/", 201),
     ("http://169.254.169.254/", 422), ("http://[fe80::1%25eth0]/", 422),
     ("http://[::127.0.0.1]/", 201), ("http://[64:ff9b::7f00:1]/", 201)],
)  # fmt: skip
def test_loopback_is_allowed_when_configured_but_link_local_never(
    loopback_client, admin, url, status
):
    create(loopback_client, admin, status=status, url=url)


@pytest.mark.parametrize(
    "event_types", [[], ["feature.nope"], ["*", "feature.nope"], "feature.approve", [1]]
)
def test_invalid_event_types_are_422(token_client, admin, event_types):
    body = create(token_client, admin, status=422, event_types=event_types)
    assert "event_types" in body["errors"]


def test_webhook_management_is_for_admins_in_token_mode_only(client, token_client, issue_token):
    refused = client.post("/webhooks", json={**HOOK, "user_role": "developer"})
    assert refused.status_code == 403
    assert "feature-gateway webhooks" in refused.get_json()["detail"]
    assert client.get("/webhooks?user_role=approver").status_code == 403
    developer = bearer(issue_token("developer", "approver", principal="dev"))
    assert token_client.post("/webhooks", json=HOOK, headers=developer).status_code == 403
    assert token_client.get("/webhooks", headers=developer).status_code == 403
    assert token_client.get("/webhooks").status_code == 401


def test_unknown_or_malformed_webhook_ids(token_client, admin):
    assert token_client.get("/webhooks/wh_0123456789abcdef", headers=admin).status_code == 404
    assert token_client.get("/webhooks/nope", headers=admin).status_code == 422
    assert token_client.delete("/webhooks/wh_0123456789abcdef", headers=admin).status_code == 404
    webhook_id = create(token_client, admin)["webhook"]["webhook_id"]
    for delivery_id, status in (("-1", 422), ("x", 422), ("0", 422), ("9" * 20, 422), ("7", 404)):
        path = f"/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"
        assert token_client.post(path, json={}, headers=admin).status_code == status, delivery_id


def _deliveries(http, admin, webhook_id, query=""):
    response = http.get(f"/webhooks/{webhook_id}/deliveries?{query}", headers=admin)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_change_queues_one_delivery_per_matching_active_webhook(
    token_client, admin, make_feature, client
):
    approvals = create(token_client, admin)["webhook"]["webhook_id"]
    everything = create(token_client, admin, event_types=["*"])["webhook"]["webhook_id"]
    submits = create(token_client, admin, event_types=["feature.submit"])["webhook"]["webhook_id"]
    feature = make_feature("DEPLOYED")  # create, submit, test, approve
    events = client.get("/events?user_role=developer").get_json()["events"]
    approve = _deliveries(token_client, admin, approvals)
    assert approve["total_count"] == 1
    (delivery,) = approve["deliveries"]
    assert set(delivery) == DELIVERY_FIELDS
    assert delivery | {"delivery_id": None} == {
        "delivery_id": None, "event_id": events[3]["id"], "event_type": "feature.approve",
        "state": "pending", "attempts": 0, "last_status_code": None, "last_error": None,
        "next_attempt_time": events[3]["timestamp"], "delivered_time": None,
        "created_time": events[3]["timestamp"],
    }  # fmt: skip
    all_four = _deliveries(token_client, admin, everything)
    assert [d["event_id"] for d in all_four["deliveries"]] == [e["id"] for e in events][::-1]
    assert [d["event_type"] for d in _deliveries(token_client, admin, submits)["deliveries"]] \
        == ["feature.submit"]  # fmt: skip
    assert feature["status"] == "DEPLOYED"


def test_a_refused_change_queues_nothing(token_client, admin, make_feature, client):
    webhook_id = create(token_client, admin, event_types=["*"])["webhook"]["webhook_id"]
    feature = make_feature("DEPLOYED")
    before = _deliveries(token_client, admin, webhook_id)["total_count"]
    refused = client.post("/approve_feature_metadata", json={
        "feature_name": feature["feature_name"], "approved_by": "boss", "user_role": "approver",
    })  # fmt: skip
    assert refused.status_code == 409
    assert _deliveries(token_client, admin, webhook_id)["total_count"] == before == 4


def test_deliveries_page_and_filter_by_state(token_client, admin, make_feature):
    webhook_id = create(token_client, admin, event_types=["*"])["webhook"]["webhook_id"]
    make_feature("TEST_SUCCEEDED")
    make_feature()
    everything = _deliveries(token_client, admin, webhook_id)
    assert everything["total_count"] == 4
    page = _deliveries(token_client, admin, webhook_id, "limit=2&offset=1")
    assert page == {"deliveries": everything["deliveries"][1:3], "total_count": 4}
    assert _deliveries(token_client, admin, webhook_id, "state=pending")["total_count"] == 4
    assert _deliveries(token_client, admin, webhook_id, "state=delivered") == {
        "deliveries": [], "total_count": 0,
    }  # fmt: skip
    bad = token_client.get(f"/webhooks/{webhook_id}/deliveries?state=lost", headers=admin)
    assert bad.status_code == 422


def test_redelivery_is_202_and_pending_again(token_client, admin, make_feature, connection):
    webhook_id = create(token_client, admin, event_types=["*"])["webhook"]["webhook_id"]
    make_feature()
    (delivery,) = _deliveries(token_client, admin, webhook_id)["deliveries"]
    connection.execute(text(
        "UPDATE webhook_deliveries SET state = 'failed', attempts = 8, next_attempt_time = NULL"
    ))  # fmt: skip
    path = f"/webhooks/{webhook_id}/deliveries/{delivery['delivery_id']}/redeliver"
    response = token_client.post(path, json={}, headers=admin)
    assert response.status_code == 202, response.get_json()
    again = response.get_json()["delivery"]
    assert (again["state"], again["attempts"]) == ("pending", 0)
    assert again["next_attempt_time"] >= delivery["created_time"]
    missing = f"/webhooks/{webhook_id}/deliveries/999999/redeliver"
    assert token_client.post(missing, json={}, headers=admin).status_code == 404


def test_deleting_a_webhook_cancels_its_deliveries_and_queues_no_more(
    token_client, admin, make_feature, connection
):
    webhook_id = create(token_client, admin, event_types=["*"])["webhook"]["webhook_id"]
    make_feature()
    response = token_client.delete(f"/webhooks/{webhook_id}", headers=admin)
    assert response.status_code == 200
    assert response.get_json()["webhook"]["webhook_id"] == webhook_id
    assert token_client.get(f"/webhooks/{webhook_id}", headers=admin).status_code == 404
    make_feature()
    assert connection.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar_one() == 0


def test_metrics_show_the_outbox_by_state_its_depth_and_oldest_age(
    token_client, admin, make_feature, connection
):
    webhook_id = create(token_client, admin, event_types=["*"])["webhook"]["webhook_id"]
    make_feature("READY_FOR_TESTING")  # two pending deliveries
    connection.execute(
        text("UPDATE webhook_deliveries SET state = 'delivered' WHERE delivery_id = "
             "(SELECT min(delivery_id) FROM webhook_deliveries WHERE webhook_id = :id)"),
        {"id": webhook_id},
    )  # fmt: skip
    connection.execute(text("UPDATE webhook_deliveries SET created_time = created_time - 60000"))
    body = token_client.get("/metrics").get_data(as_text=True)
    lines = dict(
        line.rsplit(" ", 1)
        for line in body.splitlines()
        if line.startswith("feature_gateway_webhook")
    )
    assert float(lines['feature_gateway_webhook_deliveries{state="pending"}']) == 1
    assert float(lines['feature_gateway_webhook_deliveries{state="delivered"}']) == 1
    assert float(lines['feature_gateway_webhook_deliveries{state="failed"}']) == 0
    assert float(lines["feature_gateway_webhook_queue_depth"]) == 1
    assert 60 <= float(lines["feature_gateway_webhook_oldest_pending_age_seconds"]) < 120
