"""Keyed writes whose first request is still running, or failed, on committed data.

The first request is held inside its use case by a test hook (the service function
replaced for this test only, waiting on an event): it has claimed its key and holds its
transaction open, as a slow request does, on both databases.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from feature_gateway import create_app
from feature_gateway.services import features
from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase, close_app, require_backend

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path) -> Iterator:
    require_backend(request.param)
    fresh = FreshDatabase(request.param, tmp_path, migrated=True)
    application = create_app({"database_url": fresh.url, "TESTING": True})
    application.url = fresh.url  # type: ignore[attr-defined]
    yield application
    close_app(application)
    fresh.drop()


def rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def test_a_repeat_while_the_first_request_runs_is_409_then_a_replay(app, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    real_create = features.create_feature

    def held_create(*args, **kwargs):
        entered.set()
        assert release.wait(timeout=30)
        return real_create(*args, **kwargs)

    monkeypatch.setattr(features, "create_feature", held_create)
    body = {**SEED_FEATURE, "feature_name": "idem_flight:f:1"}
    first = []
    thread = threading.Thread(target=lambda: first.append(
        app.test_client().post("/create_feature_metadata", json=body, headers={KEY: "fly"})
    ))  # fmt: skip
    thread.start()
    try:
        assert entered.wait(timeout=30)
        again = app.test_client().post("/create_feature_metadata", json=body, headers={KEY: "fly"})
        assert again.status_code == 409
        assert again.get_json()["title"] == "Request In Flight"
        assert again.headers["Retry-After"] == "1"
    finally:
        release.set()
        thread.join(timeout=30)
    assert first[0].status_code == 201
    replay = app.test_client().post("/create_feature_metadata", json=body, headers={KEY: "fly"})
    assert (replay.status_code, replay.headers[REPLAYED]) == (201, "true")
    assert replay.get_data() == first[0].get_data()
    assert rows(app.url, "SELECT count(*) FROM features") == [(1,)]


def test_a_failed_first_request_frees_its_key_and_changes_nothing(app, monkeypatch):
    real_create = features.create_feature

    def failing_create(*args, **kwargs):
        real_create(*args, **kwargs)  # its change is made, then the request fails
        raise RuntimeError("simulated failure after the write")

    monkeypatch.setattr(features, "create_feature", failing_create)
    body = {**SEED_FEATURE, "feature_name": "idem_flight:fails:1"}
    client = app.test_client()
    failed = client.post("/create_feature_metadata", json=body, headers={KEY: "crash"})
    assert failed.status_code == 500
    assert rows(app.url, "SELECT count(*) FROM features") == [(0,)]  # rolled back with it
    assert rows(app.url, "SELECT count(*) FROM idempotency_keys") == [(0,)]  # key freed
    monkeypatch.setattr(features, "create_feature", real_create)
    retry = client.post("/create_feature_metadata", json=body, headers={KEY: "crash"})
    assert retry.status_code == 201 and REPLAYED not in retry.headers
    assert rows(app.url, "SELECT count(*) FROM features") == [(1,)]
