"""Which server serves which read (SPEC §15), shown with a stand-in for the replica.

The stand-in is a second database of the test server, migrated like the primary, which the
app is given as ``DATABASE_READ_URL``. It is not in recovery, so its lag is 0: every read a
replica may serve goes there, and since it holds other rows than the primary, each answer
shows which server gave it. The real streaming replica, its lag, and PgBouncer are in
tests/deploy/test_read_replicas.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feature_gateway import create_app
from tests.conftest import _PATH_TO, _STEPS, SEED_FEATURE, migrate
from tests.console.support import page, sign_in_trust
from tests.databases import (
    close_app,
    create_postgres_database,
    drop_postgres_database,
    postgres_url,
    require_backend,
)
from tests.metrics_text import sample_total

READ = {"user_role": "developer"}
NAME = "routing_view:conv_rate:1"
SERVED = "routing_view:served:1"


class Servers:
    """The primary and the stand-in replica, and an app on each pair of URLs."""

    def __init__(self) -> None:
        self.names = [create_postgres_database(), create_postgres_database()]
        self.primary_url, self.replica_url = (postgres_url(name) for name in self.names)
        for url in (self.primary_url, self.replica_url):
            migrate(url)
        self.apps: list[Flask] = []

    def app(self, **settings: Any) -> Flask:
        app = create_app({"database_url": self.primary_url, "TESTING": True, **settings})
        self.apps.append(app)
        return app

    def close(self) -> None:
        for app in self.apps:
            close_app(app)
        for name in self.names:
            drop_postgres_database(name)


def walk(client: FlaskClient, name: str, status: str) -> None:
    """Create ``name`` and take it to ``status``, as conftest's make_feature does."""
    created = client.post("/create_feature_metadata", json={**SEED_FEATURE, "feature_name": name})
    assert created.status_code == 201, created.get_json()
    for step in _PATH_TO[status]:
        path, payload = _STEPS[step]
        response = client.post(path, json={"feature_name": name, **payload})
        assert response.status_code == 200, response.get_json()


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    require_backend("postgresql")
    servers = Servers()
    on_replica = servers.app(database_url=servers.replica_url).test_client()
    on_primary = servers.app().test_client()
    # NAME on both: at revision 1 on the replica, at 3 on the primary (updated, submitted):
    # the replica serves a state the primary has left, as a lagging replica would.
    for client in (on_replica, on_primary):
        walk(client, NAME, "DRAFT")
    changed = on_primary.post(
        "/update_feature_metadata",
        json={"feature_name": NAME, "description": "on the primary", "last_updated_by": "dev",
              "user_role": "developer"},
    )  # fmt: skip
    assert changed.status_code == 200
    walk_on = on_primary.post(
        "/ready_test_feature_metadata", json={"feature_name": NAME, **_STEPS["submit"][1]}
    )
    assert walk_on.get_json()["metadata"]["revision"] == 3
    # Only on the replica: a second version of NAME and a served feature.
    version = on_replica.post(
        "/create_feature_version",
        json={"feature_name": NAME, "created_by": "dev", "user_role": "developer"},
    )
    assert version.status_code == 201, version.get_json()
    walk(on_replica, SERVED, "DEPLOYED")
    yield servers
    servers.close()


@pytest.fixture(scope="module")
def client(servers: Servers) -> FlaskClient:
    return servers.app(database_read_url=servers.replica_url).test_client()


def revision_read(client: FlaskClient, **headers: str) -> int:
    response = client.get(f"/get_feature_metadata/{NAME}", query_string=READ, headers=headers)
    assert response.status_code == 200, response.get_json()
    return int(response.get_json()["metadata"]["revision"])


def test_a_read_by_name_is_served_by_the_replica(client: FlaskClient) -> None:
    assert revision_read(client) == 1
    assert (
        client.post("/get_feature_metadata", json={"feature_name": NAME, **READ}).headers["ETag"]
        == '"1"'
    )


# Each listed read, and what it shows when the replica serves it (the primary's differs).
REPLICA_ANSWERS: dict[str, Any] = {
    f"GET /features/{NAME}/history": lambda body: len(body["history"]) == 1,
    f"GET /features/{NAME}/changes": lambda body: len(body["changes"]) == 1,
    f"GET /features/{NAME}/versions": lambda body: len(body["versions"]) == 2,
    "GET /features/routing_view:conv_rate:2/diff": lambda body: body["against"] == NAME,
    "GET /get_all_feature_metadata": lambda body: body["total_count"] == 3,
    "POST /get_all_feature_metadata": lambda body: body["total_count"] == 3,
    "POST /get_feature_history": lambda body: len(body["history"]) == 1,
    "GET /get_deployed_features": lambda body: body["total_count"] == 1,
    "GET /features/available": lambda body: body["available_features"] == [SERVED],
    "GET /events": lambda body: len(body["events"]) == 6,  # 3 creates, submit, test, approve
    "POST /features": lambda body: body["results"][1]["statuses"] == ["PRESENT"],
    "POST /get-online-features": lambda body: body["results"][1]["statuses"] == ["PRESENT"],
    f"GET /features/{SERVED}/usage": lambda body: body["feature_name"] == SERVED,
    "GET /get_deployed_features?at=NOW": lambda body: [
        feature["feature_name"] for feature in body["features"]
    ]
    == [SERVED],
}
# The bodies of the POST reads that name no one feature.
VALUES_BODIES = {
    "/features": {"features": [SERVED], "entities": {"driver_id": ["D1"]}},
    "/get-online-features": {
        "features": ["routing_view:served"],
        "entities": {"driver_id": ["D1"]},
    },
}


@pytest.mark.parametrize("operation", REPLICA_ANSWERS)
def test_the_other_listed_reads_are_served_by_the_replica(
    client: FlaskClient, operation: str
) -> None:
    method, target = operation.split(" ")
    path, _, at = target.partition("?at=")
    if method == "GET":
        query = {**READ, "at": int(time.time() * 1000)} if at == "NOW" else READ
        response = client.get(path, query_string=query)
    else:
        body = {"feature_name": NAME, **READ} if "history" in path else dict(READ)
        response = client.post(path, json=VALUES_BODIES.get(path, body))
    assert response.status_code == 200, response.get_json()
    assert REPLICA_ANSWERS[operation](response.get_json()), response.get_json()


def test_x_read_after_a_revision_the_replica_lacks_reads_the_primary(
    client: FlaskClient,
) -> None:
    assert revision_read(client, **{"X-Read-After": '"2"'}) == 3
    assert revision_read(client, **{"X-Read-After": "3"}) == 3
    assert revision_read(client, **{"X-Read-After": "1"}) == 1  # the replica has that one
    changes = client.get(
        f"/features/{NAME}/changes", query_string=READ, headers={"X-Read-After": "2"}
    ).get_json()["changes"]
    assert [entry["revision"] for entry in changes] == [1, 2, 3]
    history = client.post(
        "/get_feature_history", json={"feature_name": NAME, **READ}, headers={"X-Read-After": "3"}
    ).get_json()["history"]
    assert [entry["to_status"] for entry in history] == ["DRAFT", "READY_FOR_TESTING"]


def test_x_read_after_on_a_read_of_no_one_feature_reads_the_primary(
    client: FlaskClient,
) -> None:
    listed = client.get(
        "/get_all_feature_metadata", query_string=READ, headers={"X-Read-After": "1"}
    ).get_json()["metadata"]
    assert "on the primary" in [f["description"] for f in listed]
    events = client.get("/events", query_string=READ, headers={"X-Read-After": "1"})
    assert [e["type"] for e in events.get_json()["events"]][:3] == [
        "feature.create", "feature.update", "feature.submit"
    ]  # fmt: skip
    values = client.post(
        "/features",
        json={"features": [SERVED], "entities": {"driver_id": ["D1"]}},
        headers={"X-Read-After": "1"},
    )
    assert values.get_json()["results"][1]["statuses"] == ["NOT_FOUND"]  # not on the primary


def test_if_none_match_is_served_where_that_revision_is_visible_and_304_when_current(
    client: FlaskClient,
) -> None:
    held = client.get(f"/get_feature_metadata/{NAME}", query_string=READ,
                      headers={"If-None-Match": '"3"'})  # fmt: skip
    assert held.status_code == 304 and held.data == b""
    assert held.headers["ETag"] == '"3"'
    # A copy the replica is at: 304 from the replica, which is within the lag bound (the
    # stand-in's lag is 0 by construction, though the primary has moved on).
    assert client.get(f"/get_feature_metadata/{NAME}", query_string=READ,
                      headers={"If-None-Match": '"1"'}).status_code == 304  # fmt: skip


def test_an_unusable_read_after_header_is_422(client: FlaskClient) -> None:
    response = client.get(
        f"/get_feature_metadata/{NAME}", query_string=READ, headers={"X-Read-After": "latest"}
    )
    assert response.status_code == 422
    assert "X-Read-After" in response.get_json()["errors"]


def test_a_write_and_the_reads_inside_it_use_the_primary(client: FlaskClient) -> None:
    name = "routing_view:written:1"
    created = client.post("/create_feature_metadata", json={**SEED_FEATURE, "feature_name": name})
    assert created.status_code == 201
    # Submitting loads the feature in the write's transaction (and a keyed write reads its
    # stored response there too): the replica, which never sees it, is not asked.
    submitted = client.post(
        "/ready_test_feature_metadata",
        json={"feature_name": name, "submitted_by": "dev", "user_role": "developer"},
        headers={"If-Match": '"1"', "Idempotency-Key": "routing-submit"},
    )
    assert submitted.status_code == 200, submitted.get_json()
    assert submitted.get_json()["metadata"]["revision"] == 2
    unseen = client.get(f"/get_feature_metadata/{name}", query_string=READ)
    assert unseen.status_code == 404  # the reads outside a write: the stand-in replica


def test_the_review_console_reads_the_primary(servers: Servers) -> None:
    app = servers.app(database_read_url=servers.replica_url)
    name = "routing_view:console_only:1"
    api = app.test_client()
    assert (
        api.post(
            "/create_feature_metadata", json={**SEED_FEATURE, "feature_name": name}
        ).status_code
        == 201
    )
    console = app.test_client()
    sign_in_trust(console, "developer", "dev")
    assert "on the primary" in page(console, f"/console/features/{NAME}")
    assert name in page(console, "/console/features")
    assert name in page(console, "/console/queue")  # the developer's own DRAFT


def test_a_replica_that_cannot_be_reached_sends_reads_to_the_primary_with_no_error(
    servers: Servers,
) -> None:
    unreachable = servers.replica_url.replace(":5432/", ":1/")
    app = servers.app(database_read_url=unreachable, db_connect_timeout_s=1)
    client = app.test_client()
    assert revision_read(client) >= 2
    health = client.get("/health").get_json()
    assert (health["status"], health["replica"], health["replica_lag_s"]) == (
        "healthy", "down", None
    )  # fmt: skip


def test_health_and_metrics_report_the_replica(servers: Servers) -> None:
    # Measured at every request: each test's app is in this one process, and the last
    # measurement of any of them is what the gauges show.
    app = servers.app(database_read_url=servers.replica_url, read_lag_check_s=0.001)
    client = app.test_client()
    revision_read(client)
    health = client.get("/health")
    assert health.status_code == 200
    assert (health.get_json()["replica"], health.get_json()["replica_lag_s"]) == ("ok", 0.0)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert sample_total(metrics, "feature_gateway_replica_up") == 1.0
    assert sample_total(metrics, "feature_gateway_replica_lag_seconds") == 0.0
    served = "feature_gateway_replicable_reads_total"
    assert sample_total(metrics, served, server="replica", reason="replica") >= 1


def test_without_a_read_url_health_is_unchanged(servers: Servers) -> None:
    body = servers.app().test_client().get("/health").get_json()
    assert "replica" not in body and body["status"] == "healthy"
