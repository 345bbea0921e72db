"""How far the stack itself lets `/health` and a read by name go (issue 26, SPEC §6's 0.8 x
and 0.75 x): the bare endpoint, the floor app (``bench/floor_app.py``: only what SPEC §5
requires of every request and what the endpoint cannot answer without) and the service,
each under ``gunicorn -c gunicorn.conf.py -w 2``, loaded in turn in every round by
``wrk -t1 -c16``.

Run: ``.venv/bin/python -m bench.floor [--backends sqlite postgresql] [--size 10000]
[--rounds 3] [--seconds 3]``. Each figure: req/s, x bare by throughput (median of the
rounds, min-max), server CPU ms per request and bare CPU / its CPU. The floor's ratio is the
most any service on Flask + SQLAlchemy + gunicorn's sync workers can reach with a pooled
connection and the SPEC's access line; the service's gap to the floor is its own.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.common import Gunicorn, LoadRun, load_average, load_run
from bench.datasets import PG_ADMIN_URL, fill, scratch_database
from bench.scenarios import ROTATION, _rotating_script

SERVERS = (
    ("bare Flask endpoint", "bench.bare_app:app", "/bare"),
    ("floor app", "bench.floor_app:app", "/health"),
    ("service", "wsgi:app", "/health"),
)


def _reads(folder: Path, names: list[str]) -> Path:
    step = max(1, len(names) // ROTATION)
    paths = [f"/get_feature_metadata/{name}?user_role=developer" for name in names[::step]]
    return _rotating_script(folder / "floor-get.lua", "GET", paths[:ROTATION])


def _row(label: str, runs: list[LoadRun], bare: list[LoadRun]) -> str:
    ratios = [run.rps / base.rps for run, base in zip(runs, bare, strict=True)]
    cpu = statistics.median(run.cpu_ms_per_request for run in runs)
    bare_cpu = statistics.median(run.cpu_ms_per_request for run in bare)
    rps = statistics.median(run.rps for run in runs)
    return (
        f"{label:<28} | {rps:8.0f} {statistics.median(ratios):5.2f}"
        f" ({min(ratios):.2f}-{max(ratios):.2f}) {cpu:6.3f} {bare_cpu / cpu:5.2f}"
    )


def measure(backend: str, args: argparse.Namespace, folder: Path) -> None:
    with scratch_database(backend, folder, args.pg_admin_url) as url:
        data = fill(url, args.size)
        script = _reads(folder, data.names)
        env = {"DATABASE_URL": url}
        servers = {
            label: Gunicorn(app, env, ready_path=ready, log=folder / f"{app}.log")
            for label, app, ready in SERVERS
        }
        # (server, path, script, label) in the order they are loaded in each round
        loads = [
            ("bare Flask endpoint", "/bare", None, "bare Flask endpoint"),
            ("floor app", "/health", None, "/health, floor"),
            ("service", "/health", None, "/health, service"),
            ("floor app", "/", script, "read by name GET, floor"),
            ("service", "/", script, "read by name GET, service"),
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
    args = parser.parse_args()
    print(f"gunicorn -c gunicorn.conf.py -w 2; wrk -t1 -c16, {args.seconds} s x {args.rounds}"
          f"; load {load_average()}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="fmg-floor-") as tmp:
        for backend in args.backends:
            measure(backend, args, Path(tmp))
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
