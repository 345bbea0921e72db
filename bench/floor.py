"""How far the stack itself lets `/health`, a read by name and `POST /features` go (issue
26, SPEC §6's 0.8 x, 0.75 x and 0.5 x): the bare endpoint, the floor app
(``bench/floor_app.py``: only what SPEC §5 requires of every request and what the endpoint
cannot answer without) and the service, each under ``gunicorn -c gunicorn.conf.py -w 2``,
loaded in turn in every round by ``wrk -t1 -c16``.

Run: ``.venv/bin/python -m bench.floor [--backends sqlite postgresql] [--size 10000]
[--rounds 3] [--seconds 3] [--check]``. Each figure: req/s, x bare by throughput (median of
the rounds, min-max), server CPU ms per request and bare CPU / its CPU. The floor's ratio is
the most any service on Flask + SQLAlchemy + gunicorn's sync workers can reach with a
pooled connection and the SPEC's access line; the service's gap to the floor is its own.

Before loading them, every run holds the floor's `POST /features` answers to the service's,
byte for byte, for the bodies of ``values_bodies`` (the benchmark's and others: every data
type, NOT_FOUND, deprecated, two key columns, integer keys at the limits, thousands of rows):
the floor computes the same answer. ``--check`` does only that.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.common import Gunicorn, LoadRun, load_average, load_run
from bench.datasets import PG_ADMIN_URL, T0, Dataset, fill, scratch_database
from bench.scenarios import ROTATION, _rotating_script, served_names, values_body

SERVERS = (
    ("bare Flask endpoint", "bench.bare_app:app", "/bare"),
    ("floor app", "bench.floor_app:app", "/health"),
    ("service", "wsgi:app", "/health"),
)


def _reads(folder: Path, names: list[str]) -> Path:
    step = max(1, len(names) // ROTATION)
    paths = [f"/get_feature_metadata/{name}?user_role=developer" for name in names[::step]]
    return _rotating_script(folder / "floor-get.lua", "GET", paths[:ROTATION])


def _values(folder: Path, data: Dataset) -> Path:
    """The benchmark's `POST /features` 10 x 100 (``bench.scenarios``)."""
    body = json.dumps(values_body(served_names(data, 10), 10, 100))
    return _rotating_script(folder / "floor-values.lua", "POST", [body], "/features")


# Served besides the tenth of the rows ``fill`` deploys, so that every data type is
# (``fill`` deploys float, integer, boolean and decimal features only); names no read of
# ``_reads`` and no values request of the benchmark asks for.
_ALSO_SERVED = {1: "DEPLOYED", 3: "DEPLOYED", 5: "DEPLOYED", 7: "DEPRECATED", 11: "DEPRECATED"}


def _serve_every_type(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for i, status in _ALSO_SERVED.items():
                conn.execute(
                    text("UPDATE features SET status = :s WHERE feature_name = :n"),
                    {"s": status, "n": f"bench_view_0:feature_{i}:1"},
                )
    finally:
        engine.dispose()


def values_bodies(data: Dataset) -> list[dict[str, Any]]:
    """`POST /features` bodies the floor must answer as the service does: the benchmark's,
    and others (each with its time: an answer without one is the time of its request)."""
    # Every data type: float 0, double 1, integer 10, bigint 3 and 11, boolean 20, string
    # 5, decimal 30, int 7; not served 2, 4, 6, 8, 9 and absent.
    mixed = [*data.names[:12], data.names[20], data.names[30], "absent_view:f:1"]
    text_keys = ["D001", "é ü 中文", "", "a" * 300, '\\u00e9"quoted"']
    int_keys = [0, -1, 2**63 - 1, -(2**63), 42]
    return [
        values_body(served_names(data, 10), 10, 100),
        {"features": mixed, "entities": {"driver": text_keys, "account": int_keys},
         "event_timestamp": 0},
        {"features": mixed[::-1], "entities": {"z_id": [7], "a_id": ["7"]},
         "event_timestamp": 1},
        {"features": data.deployed[:20], "entities": {"driver_id": list(range(1_000))},
         "event_timestamp": T0 + 3 * 86_400_000 + 12_345},
        {"features": mixed[:6], "entities": {"k": [f"k{i}" for i in range(3_000)]},
         "event_timestamp": T0},
    ]  # fmt: skip


def _post(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    sent = urllib.request.Request(url + "/features", json.dumps(body).encode(),
                                  {"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(sent, timeout=30) as answer:
        return answer.status, answer.read()


def check_values(floor: Gunicorn, service: Gunicorn, data: Dataset) -> int:
    """SystemExit unless the floor's answers to ``values_bodies`` are the service's, byte
    for byte (each 200); the number of bodies compared."""
    bodies = values_bodies(data)
    for number, body in enumerate(bodies):
        floors, services = _post(floor.url, body), _post(service.url, body)
        if services[0] != 200 or floors != services:
            raise SystemExit(
                f"POST /features body {number}: the floor answered {floors[0]} "
                f"({len(floors[1])} bytes), the service {services[0]} ({len(services[1])} "
                f"bytes): {'the same' if floors[1] == services[1] else 'not the same'} body"
            )
    return len(bodies)


def _row(label: str, runs: list[LoadRun], bare: list[LoadRun]) -> str:
    ratios = [run.rps / base.rps for run, base in zip(runs, bare, strict=True)]
    cpu = statistics.median(run.cpu_ms_per_request for run in runs)
    bare_cpu = statistics.median(run.cpu_ms_per_request for run in bare)
    rps = statistics.median(run.rps for run in runs)
    return (
        f"{label:<34} | {rps:8.0f} {statistics.median(ratios):5.2f}"
        f" ({min(ratios):.2f}-{max(ratios):.2f}) {cpu:6.3f} {bare_cpu / cpu:5.2f}"
    )


def measure(backend: str, args: argparse.Namespace, folder: Path) -> None:
    with scratch_database(backend, folder, args.pg_admin_url) as url:
        data = fill(url, args.size)
        _serve_every_type(url)
        script, values = _reads(folder, data.names), _values(folder, data)
        env = {"DATABASE_URL": url}
        servers = {
            label: Gunicorn(app, env, ready_path=ready, log=folder / f"{app}.log")
            for label, app, ready in SERVERS
        }
        try:
            compared = check_values(servers["floor app"], servers["service"], data)
        except BaseException:
            for running in servers.values():
                running.stop()
            raise
        print(f"{backend}: the floor's POST /features answers are the service's, byte for "
              f"byte ({compared} bodies)")  # fmt: skip
        if args.check:
            for running in servers.values():
                running.stop()
            return
        # (server, path, script, label) in the order they are loaded in each round
        loads = [
            ("bare Flask endpoint", "/bare", None, "bare Flask endpoint"),
            ("floor app", "/health", None, "/health, floor"),
            ("service", "/health", None, "/health, service"),
            ("floor app", "/", script, "read by name GET, floor"),
            ("service", "/", script, "read by name GET, service"),
            ("floor app", "/", values, "POST /features 10 x 100, floor"),
            ("service", "/", values, "POST /features 10 x 100, service"),
        ]
        runs: dict[str, list[LoadRun]] = {label: [] for *_, label in loads}
        try:
            for server, path, lua, _label in loads:  # warm-up
                load_run(servers[server], path, 1, script=lua)
            for _round in range(args.rounds):
                for server, path, lua, label in loads:
                    run = load_run(servers[server], path, args.seconds, script=lua)
                    if run.non_2xx:
                        raise SystemExit(f"{label}: {run.non_2xx} answers not 2xx")
                    runs[label].append(run)
        finally:
            for running in servers.values():
                running.stop()
    print(f"\n{backend}, {args.size:,} features: req/s | x bare (min-max) | CPU ms/req | "
          "bare CPU / CPU")  # fmt: skip
    for label, measured in runs.items():
        print(_row(label, measured, runs["bare Flask endpoint"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--check", action="store_true",
                        help="only compare the floor's POST /features answers with the "
                        "service's")  # fmt: skip
    args = parser.parse_args()
    print(f"gunicorn -c gunicorn.conf.py -w 2; wrk -t1 -c16, {args.seconds} s x {args.rounds}"
          f"; load {load_average()}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="fmg-floor-") as tmp:
        for backend in args.backends:
            measure(backend, args, Path(tmp))
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
