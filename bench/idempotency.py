"""What an Idempotency-Key (SPEC §11) costs: create with and without a key, and a replay.

Run: ``.venv/bin/python -m bench.idempotency [--requests N] [--postgres URL]``. The service
runs under ``gunicorn -w 2`` (the project's ``gunicorn.conf.py``) on a fresh SQLite database
(and, with ``--postgres``, on that empty PostgreSQL database, migrated first); one client on
loopback sends requests one after another on a kept-alive connection, so each figure is the
latency of one request and the server CPU it took (master and workers over the run, divided
by the requests). Three scenarios, in the same run and on the same server:

- create without a key (the baseline);
- create with a new key each time (claim in its own transaction, response stored with the
  change in the request's transaction, expired-key purge);
- a replay: the same keyed create again (one read of the stored response).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import ROOT, Gunicorn, migrated_sqlite


def migrated(url: str) -> str:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env,
                   check=True, capture_output=True)  # fmt: skip
    return url


def body(name: str) -> bytes:
    return json.dumps({
        "feature_name": name, "feature_type": "batch", "feature_data_type": "float",
        "query": "SELECT x FROM t WHERE id = ?", "description": "bench",
        "created_by": "bench", "user_role": "developer",
    }).encode()  # fmt: skip


def run(server: Gunicorn, requests: int, keyed: bool, replay: bool) -> dict[str, float]:
    """``requests`` sequential creates; returns latency percentiles and CPU per request."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    prefix = uuid.uuid4().hex[:8]

    def send(i: int) -> tuple[int, float]:
        key = f"bench-{prefix}-{0 if replay else i}"
        headers = {
            "Content-Type": "application/json",
            **({"Idempotency-Key": key} if keyed else {}),
        }
        name = f"bench_{prefix}:f_{0 if replay else i}:1"
        started = time.perf_counter()
        connection.request("POST", "/create_feature_metadata", body(name), headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started

    for i in range(-20, 0):  # warm-up, other names
        send(i - 1_000_000)
    if replay:
        send(0)  # the first request with the key: the others replay it
    cpu_before = server.cpu_s()
    timings, statuses = [], []
    for i in range(requests):
        status, seconds = send(i)
        statuses.append(status)
        timings.append(seconds * 1000)
    cpu = server.cpu_s() - cpu_before
    connection.close()
    expected = 201
    timings.sort()
    return {
        "p50_ms": statistics.median(timings),
        "p90_ms": timings[int(len(timings) * 0.9)],
        "cpu_us": cpu / requests * 1e6,
        "unexpected": sum(1 for s in statuses if s != expected),
    }


def measure(url: str, label: str, requests: int) -> list[tuple[str, dict[str, float]]]:
    server = Gunicorn("wsgi:app", {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    try:
        return [
            (f"{label}: create, no key", run(server, requests, keyed=False, replay=False)),
            (f"{label}: create, new key", run(server, requests, keyed=True, replay=False)),
            (f"{label}: replay of a create", run(server, requests, keyed=True, replay=True)),
        ]
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500, help="requests per scenario")
    parser.add_argument("--postgres", help="URL of an empty PostgreSQL database to use too")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        rows += measure(migrated_sqlite(Path(work) / "idem.db"), "SQLite", args.requests)
    if args.postgres:
        rows += measure(migrated(args.postgres), "PostgreSQL", args.requests)
    print(f"{'scenario':34} {'p50 ms':>8} {'p90 ms':>8} {'CPU µs/req':>10} {'unexpected':>10}")
    for label, f in rows:
        print(f"{label:34} {f['p50_ms']:8.2f} {f['p90_ms']:8.2f} {f['cpu_us']:10.0f} "
              f"{f['unexpected']:10.0f}")  # fmt: skip
    figures = dict(rows)
    for backend in ("SQLite", "PostgreSQL"):
        base = figures.get(f"{backend}: create, no key")
        if base is None:
            continue
        keyed = figures[f"{backend}: create, new key"]
        print(f"{backend}: a key adds {keyed['p50_ms'] - base['p50_ms']:+.2f} ms p50 and "
              f"{keyed['cpu_us'] - base['cpu_us']:+.0f} µs server CPU to a create")  # fmt: skip


if __name__ == "__main__":
    main()
