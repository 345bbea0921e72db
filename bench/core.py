"""SPEC §6 figures for the metadata API: reads, creates, lists, lifecycle latency, memory.

Run: ``.venv/bin/python -m bench.core`` (needs wrk: ``apt-get install wrk``). Starts
gunicorn -w 2 on SQLite with 10,000 features (10 % deployed) and a bare Flask endpoint
under the same settings, loads them with ``wrk -t1 -c16`` on loopback, prints a table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import Gunicorn, migrated_sqlite, seed_features, wrk

CREATE_LUA = """
counter = 0
prefix = "%s"
request = function()
  counter = counter + 1
  local body = string.format('{"feature_name": "wrk_%%s:f_%%d:1", "feature_type": "batch",'
    .. ' "feature_data_type": "float", "query": "SELECT x FROM t WHERE id = ?",'
    .. ' "description": "load test", "created_by": "wrk", "user_role": "developer"}',
    prefix, counter)
  return wrk.format("POST", "/create_feature_metadata",
                    {["Content-Type"] = "application/json"}, body)
end
"""


def lifecycle_ms(base_url: str, runs: int) -> list[float]:
    host, port = base_url.removeprefix("http://").split(":")
    timings = []
    for i in range(runs):
        name = f"life_{uuid.uuid4().hex[:8]}:f_{i}:1"
        steps = [
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
        started = time.perf_counter()
        for path, body in steps:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            conn.close()
            assert response.status in (200, 201), (path, response.status)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big_db, small_db = Path(tmp) / "big.db", Path(tmp) / "small.db"
        big_url, small_url = migrated_sqlite(big_db), migrated_sqlite(small_db)
        names = seed_features(big_db, 10_000)
        seed_features(small_db, 100)
        lua = Path(tmp) / "create.lua"
        rows: list[tuple[str, dict[str, float], str]] = []

        bare = Gunicorn("bench.bare_app:app", {})
        try:
            wrk(f"{bare.url}/bare", 1)  # warm-up: imports, connections, caches
            rows.append(("bare Flask endpoint (ceiling)", wrk(f"{bare.url}/bare", args.seconds),
                         ""))  # fmt: skip
        finally:
            bare.stop()

        app = Gunicorn("wsgi:app", {"DATABASE_URL": big_url})
        try:
            for path in (
                f"/get_feature_metadata/{names[17]}?user_role=developer",
                "/get_all_feature_metadata?user_role=developer&limit=100",
            ):
                wrk(app.url + path, 1)  # warm-up  # fmt: skip
            read = wrk(f"{app.url}/get_feature_metadata/{names[5003]}?user_role=developer",
                       args.seconds)  # fmt: skip
            ratio = read["rps"] / rows[0][1]["rps"]
            rows.append(("read one feature by name", read, f"{ratio:.0%} of bare (goal ≥ 75%)"))
            listed = wrk(
                f"{app.url}/get_all_feature_metadata?user_role=developer"
                "&status=DRAFT&feature_type=batch&limit=100",
                args.seconds,
            )
            rows.append(("filtered list, page of 100", listed, "goal ≥ 500 req/s"))
            lua.write_text(CREATE_LUA % uuid.uuid4().hex[:8])
            rows.append(("create, 10,000 features stored", wrk(app.url, args.seconds, script=lua),
                         "goal ≥ 500 req/s"))  # fmt: skip
            life = lifecycle_ms(app.url, 100)
            rss = app.worker_rss_mb()
        finally:
            app.stop()

        small = Gunicorn("wsgi:app", {"DATABASE_URL": small_url})
        try:
            lua.write_text(CREATE_LUA % uuid.uuid4().hex[:8])
            rows.append(("create, 100 features stored", wrk(small.url, args.seconds, script=lua),
                         "should match the 10,000 row"))  # fmt: skip
        finally:
            small.stop()

    print(f"{'scenario':34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}  note")
    for label, figures, note in rows:
        print(f"{label:34} {figures['rps']:8.0f} {figures['p50_ms']:8.2f} "
              f"{figures['p99_ms']:8.2f} {figures['non_2xx']:8.0f}  {note}")  # fmt: skip
    print(
        f"lifecycle (create, ready_test, test, approve), sequential: median "
        f"{statistics.median(life):.2f} ms, p99 {sorted(life)[98]:.2f} ms (goal ≤ 15 ms)"
    )
    print("worker RSS after load: " + ", ".join(f"{mb:.0f} MB" for mb in rss) + " (goal ≤ 100 MB)")


if __name__ == "__main__":
    main()
