"""The lifecycle machine is built once per process and shared by its threads
(``services.workflow``): threads firing triggers at once, each on its own features, each
record their own rows' changes, by their own actors, on committed data."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from feature_gateway import create_app
from feature_gateway.db.recording import Recorder
from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase, close_app, require_backend

pytestmark = pytest.mark.slow
THREADS = 8
_HISTORY = text(
    "SELECT a.from_status, a.to_status, a.trigger, a.actor FROM feature_audit a"
    " JOIN features f ON f.id = a.feature_id WHERE f.feature_name = :n ORDER BY a.id"
)
FEATURES_PER_THREAD = 3


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path) -> Iterator:
    require_backend(request.param)
    fresh = FreshDatabase(request.param, tmp_path, migrated=True)
    application = create_app({"database_url": fresh.url, "log_level": "WARNING"})
    application.url = fresh.url  # type: ignore[attr-defined]
    yield application
    close_app(application)
    fresh.drop()


def _steps(name: str, who: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("/ready_test_feature_metadata", {"feature_name": name, "submitted_by": f"dev{who}",
                                          "user_role": "developer"}),
        ("/test_feature_metadata", {"feature_name": name, "test_result": "TEST_SUCCEEDED",
                                    "tested_by": f"qa{who}",
                                    "user_role": "external_testing_system"}),
        ("/approve_feature_metadata", {"feature_name": name, "approved_by": f"boss{who}",
                                       "user_role": "approver"}),
    ]  # fmt: skip


def test_threads_firing_triggers_at_once_each_audit_their_own_rows(app, monkeypatch):
    real_status_change = Recorder.status_change

    def slow_status_change(self: Recorder, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.002)  # another thread runs while this one is inside the machine
        real_status_change(self, *args, **kwargs)

    monkeypatch.setattr(Recorder, "status_change", slow_status_change)
    names = {t: [f"threads_{t}:f_{n}:1" for n in range(FEATURES_PER_THREAD)]
             for t in range(THREADS)}  # fmt: skip
    client = app.test_client()
    for name in (n for ns in names.values() for n in ns):
        body = {**SEED_FEATURE, "feature_name": name, "created_by": "author"}
        assert client.post("/create_feature_metadata", json=body).status_code == 201
    barrier, failures = threading.Barrier(THREADS), []

    def run(who: int) -> None:
        own = app.test_client()
        barrier.wait()
        for step in range(3):  # each step on each of its features, interleaved
            for name in names[who]:
                path, body = _steps(name, who)[step]
                response = own.post(path, json=body)
                if response.status_code != 200:
                    failures.append((name, path, response.status_code, response.get_json()))

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    engine = create_engine(app.url)
    try:
        with engine.connect() as connection:
            for who, own_names in names.items():
                for name in own_names:
                    history = connection.execute(_HISTORY, {"n": name}).all()
                    status = connection.execute(
                        text("SELECT status FROM features WHERE feature_name = :n"), {"n": name}
                    ).scalar_one()
                    assert status == "DEPLOYED"
                    assert [tuple(row) for row in history] == [
                        (None, "DRAFT", "create", "author"),
                        ("DRAFT", "READY_FOR_TESTING", "submit", f"dev{who}"),
                        ("READY_FOR_TESTING", "TEST_SUCCEEDED", "test", f"qa{who}"),
                        ("TEST_SUCCEEDED", "APPROVED", "approve", f"boss{who}"),
                        ("APPROVED", "DEPLOYED", "deploy", f"boss{who}"),
                    ]
    finally:
        engine.dispose()
