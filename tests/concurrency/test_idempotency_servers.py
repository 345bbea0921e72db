"""Idempotency-Key across processes: a real ``gunicorn -w 4`` on committed data.

The database decides, not process memory: of ten identical keyed requests racing through
four workers exactly one change is applied; the others are replays or 409 (in flight),
never a 5xx. A repeat while the first request is held in a real long transaction is 409.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.concurrency.test_races import make_tested_feature, race
from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase, require_backend
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
RACERS = 10
KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fresh(request, tmp_path_factory) -> Iterator[FreshDatabase]:
    require_backend(request.param)
    tmp = tmp_path_factory.mktemp(f"idem-{request.param}")
    database = FreshDatabase(request.param, tmp, migrated=True)
    database.tmp = tmp  # type: ignore[attr-defined]
    yield database
    database.drop()


@pytest.fixture(scope="module")
def server(fresh) -> Iterator[LiveServer]:
    live = LiveServer(fresh.url, workers=4, log_path=fresh.tmp / "gunicorn.log")
    yield live
    live.stop()


def send(server: LiveServer, path: str, body: dict[str, Any], key: str) -> tuple[int, str, Any]:
    """POST with a key: (status, the Idempotent-Replayed header or '', JSON body)."""
    req = urllib.request.Request(
        server.base_url + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", KEY: key},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.headers.get(REPLAYED, ""), json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get(REPLAYED, ""), json.loads(error.read())


def count(url: str, sql: str, **params: Any) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def test_ten_identical_keyed_creates_apply_one_change(server, fresh):
    name = "idem_race:create:1"
    body = {**SEED_FEATURE, "feature_name": name}
    results = race(RACERS, lambda _: send(server, "/create_feature_metadata", body, "race-create"))
    statuses = Counter((status, replayed) for status, replayed, _ in results)
    assert statuses[(201, "")] == 1, statuses  # exactly one processed
    assert set(statuses) <= {(201, ""), (201, "true"), (409, "")}, statuses
    in_flight = [b for s, _, b in results if s == 409]
    assert all(b["title"] == "Request In Flight" for b in in_flight)
    replays = [b for s, r, b in results if r == "true"]
    first = next(b for s, r, b in results if s == 201 and r == "")
    assert all(b == first for b in replays)
    url = fresh.url
    assert count(url, "SELECT count(*) FROM features WHERE feature_name = :n", n=name) == 1
    assert count(url, "SELECT count(*) FROM feature_audit a JOIN features f ON f.id ="
                      " a.feature_id WHERE f.feature_name = :n", n=name) == 1  # fmt: skip
    assert count(url, "SELECT count(*) FROM feature_changes WHERE feature_name = :n", n=name) == 1
    # Once the first has finished, every retry is a replay.
    assert send(server, "/create_feature_metadata", body, "race-create")[:2] == (201, "true")


def test_ten_identical_keyed_approvals_deploy_once(server, fresh):
    name = "idem_race:approve:1"
    make_tested_feature(server, name)
    body = {"feature_name": name, "approved_by": "boss", "user_role": "approver"}
    results = race(RACERS, lambda _: send(server, "/approve_feature_metadata", body, "race-ok"))
    statuses = Counter((status, replayed) for status, replayed, _ in results)
    assert statuses[(200, "")] == 1, statuses
    assert set(statuses) <= {(200, ""), (200, "true"), (409, "")}, statuses
    _, history = server.request("GET", f"/features/{name}/history?user_role=approver")
    assert [e["to_status"] for e in history["history"]][-2:] == ["APPROVED", "DEPLOYED"]
    assert [e["trigger"] for e in history["history"]].count("approve") == 1


def test_a_repeat_while_the_first_is_held_in_a_long_transaction_is_409(server, fresh):
    if fresh.backend != "postgresql":
        pytest.skip("SQLite has one write lock for the whole file: holding it would hold the "
                    "first request's claim too (tests/concurrency/test_idempotency_in_flight.py "
                    "covers SQLite)")  # fmt: skip
    name = "idem_race:held:1"
    status, _ = server.request(
        "POST", "/create_feature_metadata", {**SEED_FEATURE, "feature_name": name}
    )
    assert status == 201
    body = {"feature_name": name, "description": "held", "last_updated_by": "dev",
            "user_role": "developer"}  # fmt: skip
    engine = create_engine(fresh.url)
    first: list[tuple[int, str, Any]] = []
    try:
        with engine.connect() as locker:
            locker.execute(text("SELECT id FROM features WHERE feature_name = :n FOR UPDATE"),
                           {"n": name})  # fmt: skip
            thread = threading.Thread(
                target=lambda: first.append(send(server, "/update_feature_metadata", body, "held"))
            )
            thread.start()
            deadline = time.monotonic() + 10
            sql = "SELECT count(*) FROM idempotency_keys WHERE idempotency_key = 'held'"
            while count(fresh.url, sql) == 0:  # the first request's claim is committed
                assert time.monotonic() < deadline, "the first request never claimed its key"
                time.sleep(0.02)
            status, replayed, problem = send(server, "/update_feature_metadata", body, "held")
            assert (status, replayed, problem["title"]) == (409, "", "Request In Flight")
            assert not first  # still held by the lock
            locker.rollback()  # the lock goes: the first request completes
        thread.join(timeout=30)
    finally:
        engine.dispose()
    assert first and first[0][:2] == (200, "")
    status, replayed, again = send(server, "/update_feature_metadata", body, "held")
    assert (status, replayed) == (200, "true")
    assert again == first[0][2]
