"""Racing requests against a real multi-worker gunicorn, on committed data.

The database transaction is the unit of consistency: of two writers that both read the
same revision, exactly one wins and the other is answered 409, and the audit trail never
records a change that did not happen.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase, require_backend
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
RACERS = 20


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory) -> Iterator[LiveServer]:
    require_backend(request.param)
    tmp = tmp_path_factory.mktemp(f"live-{request.param}")
    fresh = FreshDatabase(request.param, tmp, migrated=True)
    live = LiveServer(fresh.url, workers=4, log_path=tmp / "gunicorn.log")
    yield live
    live.stop()
    fresh.drop()


def race(count: int, call: Callable[[int], tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Run ``call`` in ``count`` threads released at the same instant."""
    barrier = threading.Barrier(count)
    results: list[tuple[int, Any]] = [(0, None)] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = call(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def make_tested_feature(server: LiveServer, name: str) -> None:
    steps = [
        ("/create_feature_metadata", {**SEED_FEATURE, "feature_name": name}),
        ("/ready_test_feature_metadata", {"feature_name": name, "submitted_by": "dev",
                                          "user_role": "developer"}),
        ("/test_feature_metadata", {"feature_name": name, "test_result": "TEST_SUCCEEDED",
                                    "tested_by": "qa", "user_role": "external_testing_system"}),
    ]  # fmt: skip
    for path, body in steps:
        status, payload = server.request("POST", path, body)
        assert status in (200, 201), payload


def test_racing_approvals_give_one_success_and_409s(server):
    name = "race_view:approve_me:1"
    make_tested_feature(server, name)
    results = race(RACERS, lambda i: server.request(
        "POST", "/approve_feature_metadata",
        {"feature_name": name, "approved_by": f"approver{i}", "user_role": "approver"},
    ))  # fmt: skip
    assert Counter(status for status, _ in results) == {200: 1, 409: RACERS - 1}
    winner = next(body for status, body in results if status == 200)["metadata"]["approved_by"]
    _, history = server.request("GET", f"/features/{name}/history?user_role=approver")
    to_states = [entry["to_status"] for entry in history["history"]]
    assert to_states == ["DRAFT", "READY_FOR_TESTING", "TEST_SUCCEEDED", "APPROVED", "DEPLOYED"]
    assert {e["actor"] for e in history["history"][-2:]} == {winner}
    _, stored = server.request("GET", f"/get_feature_metadata/{name}?user_role=developer")
    assert stored["metadata"]["status"] == "DEPLOYED"
    assert stored["metadata"]["revision"] == 4


def test_racing_creates_of_one_name_give_one_201_and_409s(server):
    name = "race_view:create_me:1"
    results = race(RACERS, lambda i: server.request(
        "POST", "/create_feature_metadata",
        {**SEED_FEATURE, "feature_name": name, "created_by": f"dev{i}"},
    ))  # fmt: skip
    assert Counter(status for status, _ in results) == {201: 1, 409: RACERS - 1}
    _, history = server.request("GET", f"/features/{name}/history?user_role=developer")
    assert [entry["trigger"] for entry in history["history"]] == ["create"]


def test_racing_edits_and_approval_never_approve_an_untested_query(server):
    name = "race_view:edit_me:1"
    make_tested_feature(server, name)

    def act(i: int) -> tuple[int, Any]:
        if i % 2:
            return server.request(
                "POST",
                "/approve_feature_metadata",
                {"feature_name": name, "approved_by": "boss", "user_role": "approver"},
            )
        return server.request("POST", "/update_feature_metadata", {
            "feature_name": name, "last_updated_by": "dev", "user_role": "developer",
            "query": f"SELECT {i} AS v"})  # fmt: skip

    results = race(10, act)
    assert all(status in (200, 409) for status, _ in results), results
    _, stored = server.request("GET", f"/get_feature_metadata/{name}?user_role=developer")
    _, history = server.request("GET", f"/features/{name}/history?user_role=developer")
    states = [entry["to_status"] for entry in history["history"]]
    assert states[-1] == stored["metadata"]["status"]
    if stored["metadata"]["status"] == "DEPLOYED":
        # The query that was deployed is the one that was tested: no edit slipped in.
        assert stored["metadata"]["query"] == SEED_FEATURE["query"]
        assert states.count("DEPLOYED") == 1


def test_racing_conditional_edits_of_one_revision_give_one_success(server):
    name = "race_view:conditional_edit:1"
    make_tested_feature(server, name)
    _, stored = server.request("GET", f"/get_feature_metadata/{name}?user_role=developer")
    revision = stored["metadata"]["revision"]
    results = race(RACERS, lambda i: server.request(
        "POST", "/update_feature_metadata",
        {"feature_name": name, "last_updated_by": f"dev{i}", "user_role": "developer",
         "description": f"edit number {i}"},
        headers={"If-Match": f'"{revision}"'},
    ))  # fmt: skip
    assert Counter(status for status, _ in results) == {200: 1, 409: RACERS - 1}
    winner = next(body for status, body in results if status == 200)["metadata"]
    _, final = server.request("GET", f"/get_feature_metadata/{name}?user_role=developer")
    # The one edit that was answered 200 is the one stored: nothing was silently overwritten.
    assert final["metadata"]["description"] == winner["description"]
    assert final["metadata"]["revision"] == revision + 1


def test_concurrent_writes_on_different_features_all_succeed(server):
    per_thread = 10

    def create_many(i: int) -> tuple[int, Any]:
        statuses = [
            server.request("POST", "/create_feature_metadata",
                           {**SEED_FEATURE, "feature_name": f"bulk_{i}:feature_{n}:1"})[0]
            for n in range(per_thread)
        ]  # fmt: skip
        return 0, statuses

    results = race(8, create_many)
    statuses = Counter(s for _, batch in results for s in batch)
    assert statuses == {201: 8 * per_thread}  # never "database is locked"
