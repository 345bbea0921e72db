"""Operational surface: /livez, /metrics, the JSON log lines, proxy headers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from feature_gateway import create_app
from feature_gateway.db.scopes import Database
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.errors import ConcurrentModificationError
from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase
from tests.metrics_text import sample_total

# Nothing listens on port 1: connecting fails at once, like a database that is down.
UNREACHABLE_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/none"


def metric(client: FlaskClient, name: str, **labels: str) -> float:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return sample_total(response.get_data(as_text=True), name, **labels)


@pytest.fixture
def log_lines() -> Iterator[Callable[[str], list[dict[str, object]]]]:
    """The JSON lines the service's own log handler writes, by logger name."""
    logger = logging.getLogger("feature_gateway")
    handler = next(h for h in logger.handlers if getattr(h, "_feature_gateway", False))
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def lines(logger_name: str) -> list[dict[str, object]]:
        parsed = [json.loads(line) for line in buffer.getvalue().splitlines()]
        return [line for line in parsed if line["logger"] == logger_name]

    yield lines
    handler.setStream(previous)


def test_livez_answers_while_the_database_is_down() -> None:
    client = create_app({"database_url": UNREACHABLE_POSTGRES, "TESTING": True}).test_client()

    live = client.get("/livez")
    health = client.get("/health")

    assert live.status_code == 200
    assert live.get_json()["status"] == "alive"
    assert health.status_code == 503
    assert health.get_json()["status"] == "unhealthy"


def test_ops_endpoints_need_no_role(client: FlaskClient) -> None:
    assert client.get("/livez").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_request_metrics_are_labelled_by_url_rule_not_by_path(
    client: FlaskClient, make_feature: Callable[..., dict[str, object]]
) -> None:
    rule = "/get_feature_metadata/<feature_name>"
    before = metric(client, "feature_gateway_http_requests_total", endpoint=rule, status="200")
    names = [make_feature()["feature_name"] for _ in range(2)]

    for name in names:
        response = client.get(f"/get_feature_metadata/{name}", headers={"X-User-Role": "approver"})
        assert response.status_code == 200

    after = metric(client, "feature_gateway_http_requests_total", endpoint=rule, status="200")
    assert after - before == 2
    text = client.get("/metrics").get_data(as_text=True)
    assert all(name not in text for name in names)
    latency = metric(
        client, "feature_gateway_http_request_duration_seconds_count", endpoint=rule, status="200"
    )
    assert latency >= 2


def test_unknown_paths_share_one_series(client: FlaskClient) -> None:
    labels = {"endpoint": "<unmatched>", "status": "404"}
    before = metric(client, "feature_gateway_http_requests_total", **labels)

    for path in ("/nope/1", "/nope/2", "/nope/3"):
        assert client.get(path).status_code == 404

    assert metric(client, "feature_gateway_http_requests_total", **labels) - before == 3


def test_status_changes_are_counted_by_trigger(
    client: FlaskClient, make_feature: Callable[..., dict[str, object]]
) -> None:
    name = "feature_gateway_status_changes_total"
    triggers = ("create", "submit", "test", "approve", "deploy")
    before = {t: metric(client, name, trigger=t) for t in triggers}

    make_feature("DEPLOYED")

    assert {t: metric(client, name, trigger=t) - before[t] for t in triggers} == dict.fromkeys(
        triggers, 1.0
    )
    assert metric(client, name, trigger="deploy", to_status="DEPLOYED") >= 1


def test_refused_transitions_are_not_counted(
    client: FlaskClient, make_feature: Callable[..., dict[str, object]]
) -> None:
    feature = make_feature("DRAFT")
    before = metric(client, "feature_gateway_status_changes_total", trigger="approve")

    response = client.post(
        "/approve_feature_metadata",
        json={
            "feature_name": feature["feature_name"],
            "approved_by": "b",
            "user_role": "approver",
        },
    )

    assert response.status_code == 409
    assert metric(client, "feature_gateway_status_changes_total", trigger="approve") == before


def test_a_change_whose_commit_fails_is_neither_counted_nor_logged(
    client: FlaskClient,
    make_feature: Callable[..., dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
    log_lines: Callable[[str], list[dict[str, object]]],
) -> None:
    feature = make_feature("DRAFT")
    before = metric(client, "feature_gateway_status_changes_total", trigger="submit")

    def lose_the_race(self: UnitOfWork, **_: object) -> None:  # commit(last=True) too
        raise ConcurrentModificationError(str(feature["feature_name"]))

    monkeypatch.setattr(UnitOfWork, "commit", lose_the_race)
    response = client.post(
        "/ready_test_feature_metadata",
        json={
            "feature_name": feature["feature_name"],
            "submitted_by": "d",
            "user_role": "developer",
        },
    )
    monkeypatch.undo()

    assert response.status_code == 409
    assert metric(client, "feature_gateway_status_changes_total", trigger="submit") == before
    assert [e for e in log_lines("feature_gateway.events") if e["trigger"] == "submit"] == []


def test_each_request_writes_one_access_line_without_the_body(
    client: FlaskClient, log_lines: Callable[[str], list[dict[str, object]]]
) -> None:
    response = client.post(
        "/create_feature_metadata", json=SEED_FEATURE, headers={"X-Request-ID": "req-42"}
    )

    assert response.status_code == 201
    assert response.headers["X-Request-ID"] == "req-42"
    [line] = log_lines("feature_gateway.access")
    assert line["level"] == "INFO"
    assert line["method"] == "POST"
    assert line["path"] == "/create_feature_metadata"
    assert line["status"] == 201
    assert line["request_id"] == "req-42"
    assert line["role"] == "developer"
    assert isinstance(line["duration_ms"], float)
    assert SEED_FEATURE["query"] not in json.dumps(line)


def test_status_changes_are_logged_at_info_with_the_request_id(
    client: FlaskClient,
    make_feature: Callable[..., dict[str, object]],
    log_lines: Callable[[str], list[dict[str, object]]],
) -> None:
    feature = make_feature("DRAFT")

    response = client.post(
        "/delete_feature_metadata",
        json={
            "feature_name": feature["feature_name"],
            "deleted_by": "dev",
            "user_role": "developer",
            "deletion_reason": "obsolete",
        },
        headers={"X-Request-ID": "del-1"},
    )

    assert response.status_code == 200
    [event] = [e for e in log_lines("feature_gateway.events") if e["trigger"] == "delete"]
    assert event["level"] == "INFO"
    assert event["feature_name"] == feature["feature_name"]
    assert (event["from_status"], event["to_status"]) == ("DRAFT", "DELETED")
    assert (event["actor"], event["role"], event["request_id"]) == ("dev", "developer", "del-1")


def _probe_app(database: Database, migrated_database: FreshDatabase, proxies: int) -> Flask:
    app = create_app(
        {
            "database": database,
            "database_url": migrated_database.url,
            "trusted_proxy_count": proxies,
            "TESTING": True,
        }
    )
    app.add_url_rule(
        "/_probe", "probe", lambda: {"remote_addr": request.remote_addr, "scheme": request.scheme}
    )
    return app


FORWARDED = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "X-Forwarded-Proto": "https"}


def test_forwarded_headers_are_ignored_without_trusted_proxies(
    database: Database, migrated_database: FreshDatabase
) -> None:
    client = _probe_app(database, migrated_database, proxies=0).test_client()

    seen = client.get("/_probe", headers=FORWARDED).get_json()

    assert seen == {"remote_addr": "127.0.0.1", "scheme": "http"}


def test_only_the_hops_added_by_trusted_proxies_are_believed(
    database: Database,
    migrated_database: FreshDatabase,
    log_lines: Callable[[str], list[dict[str, object]]],
) -> None:
    client = _probe_app(database, migrated_database, proxies=1).test_client()

    seen = client.get("/_probe", headers=FORWARDED).get_json()

    # The client claimed 203.0.113.9; the one proxy we trust saw 198.51.100.7.
    assert seen == {"remote_addr": "198.51.100.7", "scheme": "https"}
    assert log_lines("feature_gateway.access")[-1]["remote_addr"] == "198.51.100.7"
