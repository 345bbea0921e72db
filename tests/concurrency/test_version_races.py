"""Concurrent create_feature_version on one source against a real gunicorn -w 4.

Each racer gets a version number of its own or 409; never one name twice, never a 500, and
every created version has its audit row and change-log entry.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.concurrency.test_races import RACERS, race, server  # noqa: F401
from tests.conftest import SEED_FEATURE

pytestmark = pytest.mark.slow


def test_twenty_racing_new_versions_get_distinct_names_or_409(server):  # noqa: F811
    source = "race_view:versioned:1"
    status, body = server.request("POST", "/create_feature_metadata",
                                  {**SEED_FEATURE, "feature_name": source})  # fmt: skip
    assert status == 201, body
    results = race(RACERS, lambda i: server.request("POST", "/create_feature_version", {
        "feature_name": source, "created_by": f"dev{i}", "user_role": "developer",
        "description": f"racer {i}",
    }))  # fmt: skip

    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {201, 409}, results
    created = [body["metadata"] for status, body in results if status == 201]
    names = [metadata["feature_name"] for metadata in created]
    assert len(names) == len(set(names)) == statuses[201] >= 1
    assert all(body["status"] == 409 for status, body in results if status == 409)

    _, listed = server.request("GET", f"/features/{source}/versions?user_role=developer")
    stored = [version["feature_name"] for version in listed["versions"]]
    assert stored == [source] + [f"race_view:versioned:{n}" for n in range(2, len(names) + 2)]
    assert sorted(names) == sorted(stored[1:])
    for metadata in created:
        assert metadata["previous_version"] == source
        name = metadata["feature_name"]
        _, changes = server.request("GET", f"/features/{name}/changes?user_role=developer")
        assert [entry["action"] for entry in changes["changes"]] == ["create_version"]
        assert changes["changes"][0]["actor"] == metadata["created_by"]
        _, history = server.request("GET", f"/features/{name}/history?user_role=developer")
        assert [entry["trigger"] for entry in history["history"]] == ["create"]
