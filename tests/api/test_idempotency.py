"""Idempotency-Key on writes (SPEC §11), through the API on both databases.

A repeat with the same key and the same request gets the stored response with
``Idempotent-Replayed: true`` and changes nothing; another request with the key is 422;
refusals are stored too; keys belong to the principal in token mode; expired keys go.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from feature_gateway.services import idempotency
from feature_gateway.services.clock import now_ms
from tests.conftest import SEED_FEATURE, bearer

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
TABLES = ("features", "feature_audit", "feature_changes", "api_tokens", "idempotency_keys")


def counts(connection):
    return {
        table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        for table in TABLES
    }


def keyed(key):
    return {KEY: key}


def new_feature(name="idem_view:feature:1", **fields):
    return {**SEED_FEATURE, "feature_name": name, **fields}


def test_a_repeated_create_replays_the_stored_response_and_changes_nothing(client, connection):
    first = client.post("/create_feature_metadata", json=new_feature(), headers=keyed("k-1"))
    assert first.status_code == 201, first.get_json()
    assert REPLAYED not in first.headers
    before = counts(connection)
    assert before["idempotency_keys"] == 1
    again = client.post("/create_feature_metadata", json=new_feature(), headers=keyed("k-1"))
    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.get_data() == first.get_data()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert counts(connection) == before  # no row, audit entry or change-log entry more


def test_the_same_body_spelled_differently_is_the_same_request(client):
    body = new_feature()
    client.post("/create_feature_metadata", json=body, headers=keyed("k-order"))
    reordered = dict(reversed(list(body.items())))
    again = client.post("/create_feature_metadata", json=reordered, headers=keyed("k-order"))
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"


def test_a_repeated_workflow_trigger_is_applied_once(client, make_feature, audit_rows, connection):
    feature = make_feature("DRAFT")
    name = feature["feature_name"]
    body = {"feature_name": name, "submitted_by": "dev", "user_role": "developer"}
    first = client.post("/ready_test_feature_metadata", json=body, headers=keyed("submit-1"))
    assert first.status_code == 200
    before = counts(connection)
    again = client.post("/ready_test_feature_metadata", json=body, headers=keyed("submit-1"))
    assert (again.status_code, again.headers[REPLAYED]) == (200, "true")
    assert again.get_json() == first.get_json()
    assert counts(connection) == before
    assert [row["trigger"] for row in audit_rows(name)] == ["create", "submit"]
    # Without the key the same call is a new request: the feature is no longer DRAFT.
    assert client.post("/ready_test_feature_metadata", json=body).status_code == 409


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(client, connection):
    client.post("/create_feature_metadata", json=new_feature(), headers=keyed("k-2"))
    before = counts(connection)
    other = client.post(
        "/create_feature_metadata", json=new_feature("idem_view:other:1"), headers=keyed("k-2")
    )
    assert other.status_code == 422
    problem = other.get_json()
    assert other.headers["Content-Type"] == "application/problem+json"
    assert KEY in problem["errors"] and "k-2" in problem["detail"]
    assert "another body" in problem["detail"]
    assert counts(connection) == before


def test_the_same_key_on_another_endpoint_is_refused(client, make_feature):
    name = make_feature("DRAFT")["feature_name"]
    client.post("/create_feature_metadata", json=new_feature(), headers=keyed("k-3"))
    body = {"feature_name": name, "submitted_by": "dev", "user_role": "developer"}
    response = client.post("/ready_test_feature_metadata", json=body, headers=keyed("k-3"))
    assert response.status_code == 422
    assert "another endpoint" in response.get_json()["detail"]
    assert "/create_feature_metadata" in response.get_json()["detail"]
    assert (
        client.get(f"/get_feature_metadata/{name}?user_role=developer").get_json()["metadata"][
            "status"
        ]
        == "DRAFT"
    )


def test_if_match_is_part_of_what_makes_the_request(client, make_feature):
    name = make_feature("DRAFT")["feature_name"]
    body = {"feature_name": name, "description": "new", "last_updated_by": "dev",
            "user_role": "developer"}  # fmt: skip
    first = client.post(
        "/update_feature_metadata", json=body, headers={KEY: "k-if", "If-Match": '"1"'}
    )
    assert first.status_code == 200
    other = client.post(
        "/update_feature_metadata", json=body, headers={KEY: "k-if", "If-Match": '"2"'}
    )
    assert other.status_code == 422


def test_a_refused_request_is_replayed_as_refused_even_once_it_would_succeed(client, connection):
    # 404: the feature does not exist yet; the repeat answers 404 although it now exists.
    name = "idem_view:later:1"
    body = {"feature_name": name, "submitted_by": "dev", "user_role": "developer"}
    refused = client.post("/ready_test_feature_metadata", json=body, headers=keyed("k-404"))
    assert refused.status_code == 404
    assert client.post("/create_feature_metadata", json=new_feature(name)).status_code == 201
    before = counts(connection)
    again = client.post("/ready_test_feature_metadata", json=body, headers=keyed("k-404"))
    assert (again.status_code, again.headers[REPLAYED]) == (404, "true")
    assert again.get_data() == refused.get_data()
    assert counts(connection) == before


def test_a_forbidden_request_is_replayed_as_forbidden(client):
    body = new_feature(user_role="approver")
    refused = client.post("/create_feature_metadata", json=body, headers=keyed("k-403"))
    assert refused.status_code == 403
    again = client.post("/create_feature_metadata", json=body, headers=keyed("k-403"))
    assert (again.status_code, again.headers[REPLAYED]) == (403, "true")
    assert again.get_json() == refused.get_json()


def test_a_conflict_is_replayed_as_a_conflict(client):
    client.post("/create_feature_metadata", json=new_feature())
    duplicate = client.post("/create_feature_metadata", json=new_feature(), headers=keyed("k-409"))
    assert duplicate.status_code == 409
    again = client.post("/create_feature_metadata", json=new_feature(), headers=keyed("k-409"))
    assert (again.status_code, again.headers[REPLAYED]) == (409, "true")


@pytest.mark.parametrize(
    "key", ["x" * 256, "caf\u00e9", "tab\there"], ids=["too-long", "not-ascii", "control"]
)
def test_an_invalid_key_is_refused_naming_the_header(client, connection, key):
    before = counts(connection)
    response = client.post("/create_feature_metadata", json=new_feature(), headers={KEY: key})
    assert response.status_code == 422
    problem = response.get_json()
    assert list(problem["errors"]) == [KEY]
    assert KEY in problem["detail"]
    assert counts(connection) == before


def test_a_key_of_255_printable_characters_is_accepted(client):
    key = ("A-z0~ " * 43)[:255]
    assert (
        client.post("/create_feature_metadata", json=new_feature(), headers=keyed(key)).status_code
        == 201
    )


def test_malformed_json_with_a_key_is_400_and_not_stored(client, connection):
    response = client.post(
        "/create_feature_metadata", data="{oops", content_type="application/json",
        headers=keyed("k-bad"),
    )  # fmt: skip
    assert response.status_code == 400
    assert counts(connection)["idempotency_keys"] == 0
    fixed = client.post("/create_feature_metadata", json=new_feature(), headers=keyed("k-bad"))
    assert fixed.status_code == 201 and REPLAYED not in fixed.headers


def test_read_only_posts_ignore_the_key(client, make_feature, connection):
    name = make_feature("DRAFT")["feature_name"]
    for _ in range(2):
        response = client.post(
            "/get_feature_metadata",
            json={"feature_name": name, "user_role": "developer"},
            headers=keyed("k-read"),
        )
        assert response.status_code == 200 and REPLAYED not in response.headers
    assert counts(connection)["idempotency_keys"] == 0


def test_an_expired_key_is_processed_again_and_purged(client, connection):
    client.post("/create_feature_metadata", json=new_feature(), headers=keyed("k-old"))
    connection.execute(text("UPDATE idempotency_keys SET expires_time = 1"))
    again = client.post("/create_feature_metadata", json=new_feature(), headers=keyed("k-old"))
    assert again.status_code == 409  # processed anew: the feature exists now
    assert REPLAYED not in again.headers
    (expires,) = connection.execute(text("SELECT expires_time FROM idempotency_keys")).one()
    assert expires > now_ms() + 23 * 3600 * 1000  # kept 24 h from now


def test_each_keyed_write_deletes_expired_keys(client, connection):
    for i in range(3):
        client.post(
            "/create_feature_metadata",
            json=new_feature(f"idem_view:f{i}:1"),
            headers=keyed(f"e{i}"),
        )
    connection.execute(text("UPDATE idempotency_keys SET expires_time = 1"))
    client.post("/create_feature_metadata", json=new_feature(), headers=keyed("fresh"))
    keys = connection.execute(text("SELECT idempotency_key FROM idempotency_keys")).scalars()
    assert list(keys) == ["fresh"]


def test_a_keyed_write_slower_than_the_keys_lifetime_keeps_its_change(
    client, connection, monkeypatch
):
    """Its own claim expires while the use case runs; the purge of expired keys that the
    write does must not take it (it did: 409 "taken over", the feature rolled back)."""
    from feature_gateway.api import idempotency as keyed_requests
    from feature_gateway.services import features

    clock = {"ms": now_ms()}
    monkeypatch.setattr(keyed_requests, "now_ms", lambda: clock["ms"])
    real_create = features.create_feature

    def slow_create(*args, **kwargs):
        clock["ms"] += 25 * 3600 * 1000  # past the 24 h the claim expires in
        return real_create(*args, **kwargs)

    monkeypatch.setattr(features, "create_feature", slow_create)
    response = client.post(
        "/create_feature_metadata", json=new_feature("idem_view:slow:1"), headers=keyed("slow")
    )
    assert response.status_code == 201
    names = connection.execute(text("SELECT feature_name FROM features")).scalars()
    assert "idem_view:slow:1" in list(names)
    (completed,) = connection.execute(
        text("SELECT completed_time FROM idempotency_keys WHERE idempotency_key = 'slow'")
    ).one()
    assert completed == clock["ms"]


def test_purge_deletes_only_expired_keys(client, connection, database):
    for i in range(3):
        client.post(
            "/create_feature_metadata",
            json=new_feature(f"idem_view:p{i}:1"),
            headers=keyed(f"p{i}"),
        )
    connection.execute(
        text("UPDATE idempotency_keys SET expires_time = 1 WHERE idempotency_key <> 'p2'")
    )
    assert idempotency.purge(database, now_ms(), batch=1) == 2
    keys = connection.execute(text("SELECT idempotency_key FROM idempotency_keys")).scalars()
    assert list(keys) == ["p2"]


def test_a_repeat_while_the_first_is_in_flight_is_409(client, connection):
    body = {"feature_name": "idem_view:nope:1", "submitted_by": "dev", "user_role": "developer"}
    client.post("/ready_test_feature_metadata", json=body, headers=keyed("k-fly"))
    # As a first request still running holds it: claimed a moment ago, not completed.
    connection.execute(text(
        "UPDATE idempotency_keys SET completed_time = NULL, response_status = NULL,"
        " response_body = NULL, claimed_time = :t"), {"t": now_ms() - 5_000}
    )  # fmt: skip
    response = client.post("/ready_test_feature_metadata", json=body, headers=keyed("k-fly"))
    assert response.status_code == 409
    assert response.get_json()["title"] == "Request In Flight"
    assert response.headers["Retry-After"] == "1"


def test_a_claim_older_than_its_lease_is_taken_over(client, connection):
    body = {"feature_name": "idem_view:nope:1", "submitted_by": "dev", "user_role": "developer"}
    client.post("/ready_test_feature_metadata", json=body, headers=keyed("k-dead"))
    # As a first request killed mid-way left it: claimed 61 s ago (the lease is 60 s).
    connection.execute(text(
        "UPDATE idempotency_keys SET completed_time = NULL, response_status = NULL,"
        " response_body = NULL, claimed_time = :t"), {"t": now_ms() - 61_000}
    )  # fmt: skip
    retry = client.post("/ready_test_feature_metadata", json=body, headers=keyed("k-dead"))
    assert retry.status_code == 404 and REPLAYED not in retry.headers
    again = client.post("/ready_test_feature_metadata", json=body, headers=keyed("k-dead"))
    assert (again.status_code, again.headers[REPLAYED]) == (404, "true")


def test_trust_mode_keys_are_the_key_alone(client):
    first = client.post("/create_feature_metadata", json=new_feature(), headers=keyed("shared"))
    assert first.status_code == 201
    other = client.post(
        "/create_feature_metadata", json=new_feature(created_by="eve"), headers=keyed("shared")
    )
    assert other.status_code == 422  # whoever claims to send it, it is the same key


def test_token_mode_keys_belong_to_their_principal(token_client, issue_token, connection):
    alice = bearer(issue_token("developer", principal="alice"))
    bob = bearer(issue_token("developer", principal="bob"))
    body_a = {k: v for k, v in new_feature("idem_view:alice:1").items() if k != "created_by"}
    body_b = {**body_a, "feature_name": "idem_view:bob:1"}
    a = token_client.post("/create_feature_metadata", json=body_a, headers={**alice, KEY: "same"})
    b = token_client.post("/create_feature_metadata", json=body_b, headers={**bob, KEY: "same"})
    assert (a.status_code, b.status_code) == (201, 201)
    assert REPLAYED not in b.headers
    assert b.get_json()["metadata"]["created_by"] == "bob"
    again = token_client.post(
        "/create_feature_metadata", json=body_a, headers={**alice, KEY: "same"}
    )
    assert (again.status_code, again.headers[REPLAYED]) == (201, "true")
    assert again.get_data() == a.get_data()
    assert counts(connection)["idempotency_keys"] == 2


def test_a_replayed_token_creation_never_shows_or_stores_the_secret(
    token_client, issue_token, connection
):
    admin = bearer(issue_token("admin", principal="root"))
    body = {"principal": "carol", "roles": ["developer"]}
    first = token_client.post("/tokens", json=body, headers={**admin, KEY: "tok-1"})
    assert first.status_code == 201
    secret = first.get_json()["token"]
    stored = connection.execute(text("SELECT response_body FROM idempotency_keys")).scalar_one()
    assert secret.encode() not in bytes(stored)
    before = counts(connection)
    again = token_client.post("/tokens", json=body, headers={**admin, KEY: "tok-1"})
    assert (again.status_code, again.headers[REPLAYED]) == (409, "true")
    assert again.get_json()["title"] == "Response Not Replayable"
    assert secret not in again.get_data(as_text=True)
    assert counts(connection) == before  # no second token


def test_a_replayed_webhook_creation_never_shows_or_stores_the_secret(
    token_client, issue_token, connection
):
    admin = bearer(issue_token("admin", principal="root"))
    body = {"url": "https://203.0.113.10/hook", "event_types": ["*"]}
    first = token_client.post("/webhooks", json=body, headers={**admin, KEY: "hook-1"})
    assert first.status_code == 201, first.get_json()
    secret = first.get_json()["secret"]
    stored = connection.execute(text("SELECT response_body FROM idempotency_keys")).scalar_one()
    assert secret.encode() not in bytes(stored)
    again = token_client.post("/webhooks", json=body, headers={**admin, KEY: "hook-1"})
    assert (again.status_code, again.headers[REPLAYED]) == (409, "true")
    assert again.get_json()["title"] == "Response Not Replayable"
    assert secret not in again.get_data(as_text=True)
    count = connection.execute(text("SELECT count(*) FROM webhooks")).scalar_one()
    assert count == 1  # no second webhook


def test_the_purge_command_removes_expired_keys_and_says_how_many(app, client, connection):
    for i in range(2):
        client.post(
            "/create_feature_metadata",
            json=new_feature(f"idem_view:c{i}:1"),
            headers=keyed(f"c{i}"),
        )
    connection.execute(
        text("UPDATE idempotency_keys SET expires_time = 1 WHERE idempotency_key = 'c0'")
    )
    result = app.test_cli_runner().invoke(args=["idempotency", "purge"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("removed 1 expired idempotency keys")
    keys = connection.execute(text("SELECT idempotency_key FROM idempotency_keys")).scalars()
    assert list(keys) == ["c1"]


def test_a_connection_lost_while_storing_the_response_is_503_and_changes_nothing(
    client, connection, monkeypatch
):
    # The database going away between the change and its stored response (a PostgreSQL
    # restart, seen in the soak test) must answer like any lost connection: 503, not 500.
    from sqlalchemy.exc import OperationalError

    from feature_gateway.db.idempotency import IdempotencyRepository

    def connection_lost(*_args, **_kwargs):
        raise OperationalError("UPDATE idempotency_keys", {}, Exception("server closed"))

    monkeypatch.setattr(IdempotencyRepository, "complete", connection_lost)
    before = counts(connection)
    response = client.post("/create_feature_metadata", json=new_feature(), headers=keyed("lost"))
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["detail"].startswith("The database is unavailable")
    assert counts(connection) == before
