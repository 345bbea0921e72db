"""Both serving endpoints (SPEC §13), with and without read counting, in one run.

Run: ``.venv/bin/python -m bench.serving`` (``make bench-serving``; needs wrk). One SQLite
database with 10,000 features (10 % deployed), three ``gunicorn -c gunicorn.conf.py -w 2``
servers up at once: the bare Flask endpoint (the ceiling), the service with counting
(``USAGE_COUNTING=true``, the default) and without. In rounds, each round loads the bare
endpoint and then each (server, endpoint) pair with ``wrk -t1 -c16``: ``POST /features``
and ``POST /get-online-features``, both 10 features x 100 rows (the same deployed features:
full names for one, ``view:feature`` refs for the other). Figures are medians over the
rounds; the ratio is to the bare endpoint of the same round. SPEC §6: POST /features >= 0.5
x bare; counting may cost it at most 3 %.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Gunicorn, LoadRun, load_average, load_run, migrated_sqlite, seed_features
from feature_gateway.domain.versions import family_name

FEATURES, ROWS = 10, 100
ENDPOINTS = ("/features", "/get-online-features")

POST_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = %s
"""


def _script(folder: Path, name: str, body: dict[str, object]) -> Path:
    path = folder / f"{name}.lua"
    path.write_text(POST_LUA % json.dumps(json.dumps(body)))
    return path


def bodies(deployed: list[str]) -> dict[str, dict[str, object]]:
    """The same features and rows for both endpoints."""
    names = deployed[:FEATURES]
    entities = {"driver_id": [f"D{i:05d}" for i in range(ROWS)]}
    return {
        "/features": {"features": names, "entities": entities},
        "/get-online-features": {
            "features": [family_name(name) for name in names],
            "entities": entities,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        tmp = Path(work)
        url = migrated_sqlite(tmp / "serving.db")
        names = seed_features(tmp / "serving.db", 10_000)
        deployed = [name for i, name in enumerate(names) if i % 10 == 0]
        scripts = {e: _script(tmp, e.strip("/"), b) for e, b in bodies(deployed).items()}
        servers = {"bare": Gunicorn("bench.bare_app:app", {}, ready_path="/bare")}
        try:
            for counting in ("true", "false"):
                env = {"DATABASE_URL": url, "USAGE_COUNTING": counting}
                servers[f"counting={counting}"] = Gunicorn("wsgi:app", env)
            runs = measure(servers, scripts, args)
        finally:
            for server in servers.values():
                server.stop()
    report(runs, args.rounds)
    per_request = counting_us(deployed[:FEATURES])
    off_cpu_ms = statistics.median(
        run.cpu_ms_per_request for run, _ in runs["/features counting=false"]
    )
    share = per_request / 1000 / off_cpu_ms
    print(f"counting in process: {per_request:.1f} µs per request of {FEATURES} features "
          f"({share:.2%} of the server CPU of a request without)")  # fmt: skip


def counting_us(names: list[str], calls: int = 100_000) -> float:
    """What counting adds to one request, in process: the time of the read and a read of
    each feature (``api.context.read_counter``; its flusher check is one getpid)."""
    from feature_gateway.services.clock import now_ms
    from feature_gateway.services.usage import UsageCounter

    counter, served = UsageCounter(10.0), set(names)
    started = time.perf_counter()
    for _ in range(calls):
        at = now_ms()
        os.getpid()
        counter.count(served, "anonymous", at)
    return (time.perf_counter() - started) / calls * 1e6


def measure(
    servers: dict[str, Gunicorn], scripts: dict[str, Path], args: argparse.Namespace
) -> dict[str, list[tuple[LoadRun, LoadRun]]]:
    """(run, the bare run of its round) for each (endpoint, server), every round."""
    pairs = [(e, s) for e in ENDPOINTS for s in servers if s != "bare"]
    for endpoint, server in pairs:  # warm-up
        load_run(servers[server], endpoint, 2, script=scripts[endpoint])
    runs: dict[str, list[tuple[LoadRun, LoadRun]]] = {f"{e} {s}": [] for e, s in pairs}
    for _ in range(args.rounds):
        bare = load_run(servers["bare"], "/bare", args.seconds)
        for endpoint, server in pairs:
            run = load_run(servers[server], endpoint, args.seconds, script=scripts[endpoint])
            runs[f"{endpoint} {server}"].append((run, bare))
    return runs


def report(runs: dict[str, list[tuple[LoadRun, LoadRun]]], rounds: int) -> None:
    print(f"{FEATURES} features x {ROWS} rows, {rounds} rounds, load {load_average()}")
    print(f"{'scenario':44} {'req/s':>7} {'of bare':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'CPU ms/req':>10} {'non-2xx':>7}")  # fmt: skip
    medians: dict[str, dict[str, float]] = {}
    for label, pairs in runs.items():
        figures = {
            "rps": statistics.median(run.rps for run, _ in pairs),
            "ratio": statistics.median(run.rps / bare.rps for run, bare in pairs),
            "p50": statistics.median(run.p50_ms for run, _ in pairs),
            "p99": statistics.median(run.p99_ms for run, _ in pairs),
            "cpu": statistics.median(run.cpu_ms_per_request for run, _ in pairs),
            "non_2xx": sum(run.non_2xx for run, _ in pairs),
        }
        medians[label] = f = figures
        print(f"{label:44} {f['rps']:7.0f} {f['ratio']:8.2f} {f['p50']:7.2f} {f['p99']:7.2f} "
              f"{f['cpu']:10.3f} {f['non_2xx']:7.0f}")  # fmt: skip
    for endpoint in ENDPOINTS:
        on, off = medians[f"{endpoint} counting=true"], medians[f"{endpoint} counting=false"]
        print(f"counting costs {endpoint} {1 - on['ratio'] / off['ratio']:+.1%} of its throughput "
              f"(of bare: {on['ratio']:.2f} vs {off['ratio']:.2f}), "
              f"{on['cpu'] - off['cpu']:+.3f} ms CPU per request")  # fmt: skip


if __name__ == "__main__":
    main()
