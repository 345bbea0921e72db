"""The SPEC §6 load scenarios, as wrk Lua scripts, and the sequential latency checks."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.datasets import LIST_OWNER, T0, Dataset
from feature_gateway.domain.versions import family_name

JSON = {"Content-Type": "application/json"}
ROTATION = 1_000  # reads rotate over this many names spread across the whole table


@dataclass(frozen=True)
class Scenario:
    label: str
    goal: float  # the least throughput, as a share of the bare endpoint's
    path: str
    script: Path | None = None


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def _rotating_script(path: Path, method: str, items: list[str], body_path: str = "") -> Path:
    """A wrk script sending ``items`` in turn: request paths (GET) or bodies (POST)."""
    listed = ",\n".join(_lua_string(item) for item in items)
    call = 'wrk.format("GET", items[i])'
    if method == "POST":
        call = f'wrk.format("POST", "{body_path}", {{["Content-Type"] = "application/json"}}, items[i])'  # noqa: E501
    path.write_text(
        f"local items = {{\n{listed}\n}}\nlocal i = 0\n"
        f"request = function()\n  i = i % #items + 1\n  return {call}\nend\n"
    )
    return path


def create_script(path: Path, *, keyed: bool = False, every_other: bool = False) -> Path:
    """Creates of new names; with ``keyed``, each sent with a new Idempotency-Key; with
    ``every_other``, every other one (``bench.keyed_mixed``: both kinds in one load)."""
    # Each wrk run (warm-up, rounds) makes names of its own: wrk restarts the counter.
    keyed_when = "counter % 2 == 1" if every_other else "true" if keyed else ""
    key = (
        f"  if {keyed_when} then\n"
        '    headers["Idempotency-Key"] = "k_" .. prefix .. "_" .. counter\n'
        "  end\n"
        if keyed_when
        else ""
    )
    path.write_text(
        "math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))\n"
        'local counter = 0\nlocal prefix = os.time() .. "_" .. math.random(1, 1000000000)\n'
        "request = function()\n  counter = counter + 1\n"
        '  local body = string.format(\'{"feature_name": "wrk_%s:f_%d:1", '
        '"feature_type": "batch", "feature_data_type": "float", '
        '"query": "SELECT x FROM t WHERE id = ?", "description": "load test", '
        '"created_by": "wrk", "user_role": "developer"}\', prefix, counter)\n'
        '  local headers = {["Content-Type"] = "application/json"}\n'
        f"{key}"
        '  return wrk.format("POST", "/create_feature_metadata", headers, body)\nend\n'
    )
    return path


def with_bearer(scenario: Scenario, token: str, path: Path) -> Scenario:
    """The same requests, each with ``Authorization: Bearer <token>``: a prelude to the
    scenario's script puts it in ``wrk.headers`` (requests formatted without headers of
    their own) and in the headers ``wrk.format`` is given (the others)."""
    prelude = (
        f'local authorization = "Bearer {token}"\n'
        'wrk.headers["Authorization"] = authorization\n'
        "local format = wrk.format\n"
        "wrk.format = function(method, path, headers, body)\n"
        '  if headers then headers["Authorization"] = authorization end\n'
        "  return format(method, path, headers, body)\nend\n"
    )
    path.write_text(prelude + (scenario.script.read_text() if scenario.script else ""))
    return replace(scenario, script=path)


def values_body(names: list[str], n_features: int, n_rows: int) -> dict[str, Any]:
    return {
        "features": names[:n_features],
        "entities": {"driver_id": [f"D{i:05d}" for i in range(n_rows)]},
        "event_timestamp": T0,
    }


def served_names(data: Dataset, count: int) -> list[str]:
    """``count`` names to ask values for: deployed ones first, then others (NOT_FOUND)."""
    others = [name for name in data.names if name not in set(data.deployed[:count])]
    return (data.deployed[:count] + others + [f"absent:f_{i}:1" for i in range(count)])[:count]


def scenarios(data: Dataset, folder: Path) -> list[Scenario]:
    step = max(1, len(data.names) // ROTATION)
    spread = data.names[::step][:ROTATION]
    reads = [f"/get_feature_metadata/{name}?user_role=developer" for name in spread]
    get_script = _rotating_script(folder / "get.lua", "GET", reads)
    post_reads = [json.dumps({"feature_name": n, "user_role": "developer"}) for n in spread]
    post_script = _rotating_script(
        folder / "post.lua", "POST", post_reads, "/get_feature_metadata"
    )
    values_request = values_body(served_names(data, 10), 10, 100)
    values = json.dumps(values_request)
    # The same features by reference (``view:feature``: the latest served version).
    online = json.dumps(
        {
            "features": [family_name(n) for n in values_request["features"]],
            "entities": values_request["entities"],
        }
    )
    listing = f"/get_all_feature_metadata?user_role=developer&created_by={LIST_OWNER}&limit=100"
    return [
        Scenario("/health", 0.8, "/health"),
        Scenario("read by name, GET", 0.75, "/", get_script),
        Scenario("read by name, POST", 0.75, "/", post_script),
        Scenario("filtered list, page of 100", 0.4, listing),
        Scenario("POST /features 10 x 100", 0.5, "/",
                 _rotating_script(folder / "values.lua", "POST", [values], "/features")),
        Scenario("POST /get-online-features 10 x 100", 0.5, "/", _rotating_script(
            folder / "online.lua", "POST", [online], "/get-online-features")),
        Scenario("create", 0.3, "/", create_script(folder / "create.lua")),
        # SPEC §11 and issue 26: a keyed create costs at most 1.3 x an unkeyed one.
        Scenario("create, Idempotency-Key", 0.3, "/",
                 create_script(folder / "keyed.lua", keyed=True)),
    ]  # fmt: skip


class Client:
    """Sequential requests over one connection object (it reconnects when a worker closes)."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        self.connection.request("POST", path, json.dumps(body), JSON)
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


def lifecycle_steps(name: str) -> list[tuple[str, dict[str, Any]]]:
    """The requests of one lifecycle of a new feature: create, ready_test, test, approve."""
    return [
        ("/create_feature_metadata", {"feature_name": name, "feature_type": "batch",
         "feature_data_type": "float", "query": "SELECT 1", "description": "lifecycle",
         "created_by": "dev", "user_role": "developer"}),
        ("/ready_test_feature_metadata", {"feature_name": name, "submitted_by": "dev",
         "user_role": "developer"}),
        ("/test_feature_metadata", {"feature_name": name, "test_result": "TEST_SUCCEEDED",
         "tested_by": "qa", "user_role": "external_testing_system"}),
        ("/approve_feature_metadata", {"feature_name": name, "approved_by": "boss",
         "user_role": "approver"}),
    ]  # fmt: skip


def lifecycle_ms(url: str, runs: int) -> list[float]:
    """Wall ms of create, ready_test, test, approve in a row, for ``runs`` new features."""
    client, timings = Client(url), []
    for i in range(runs):
        steps = lifecycle_steps(f"life_{uuid.uuid4().hex[:8]}:f_{i}:1")
        started = time.perf_counter()
        for path, body in steps:
            status, _ = client.post(path, body)
            assert status in (200, 201), (path, status)
        timings.append((time.perf_counter() - started) * 1000)
    client.close()
    return timings


def values_ms(url: str, body: dict[str, Any], runs: int) -> tuple[list[float], int]:
    """Wall ms of ``runs`` sequential ``POST /features``, and the response size."""
    client, timings, size = Client(url), [], 0
    for _ in range(runs):
        started = time.perf_counter()
        status, answer = client.post("/features", body)
        timings.append((time.perf_counter() - started) * 1000)
        assert status == 200, (status, answer[:300])
        size = len(answer)
    client.close()
    return timings, size
