"""Before/after: this checkout against another one, under the same load, in alternation.

Run: ``.venv/bin/python -m bench.compare OTHER_CHECKOUT [--paths /health,...] [--cold-start
PAIRS] [--lifecycles N]``,
OTHER_CHECKOUT being e.g. ``git worktree add /tmp/main main`` or an unpacked
``git archive``. Both serve the same scratch SQLite database (10,000 features) under their
own ``gunicorn.conf.py``, beside the bare endpoint; the wrk runs alternate (bare, other,
this, per path and round), so a drift of the machine's speed hits both sides alike. Prints
req/s, x bare and server CPU ms per request for each. ``--cold-start`` instead alternates
cold starts of the two (4 workers) and prints each pair's ratio; ``--lifecycles N``
alternates blocks of N sequential lifecycles (create, ready_test, test, approve) on the two
and prints each side's median and quartiles (SPEC §6: median <= 10 ms), the figure that
drifts most between sittings.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench import cold_start
from bench.common import ROOT, Gunicorn, LoadRun, load_run, spread
from bench.datasets import feature_name, fill, scratch_database
from bench.scenarios import lifecycle_ms


def load(url: str, other: Path, paths: list[str], rounds: int, seconds: int) -> None:
    env = {"DATABASE_URL": url}
    bare = Gunicorn("bench.bare_app:app", {}, ready_path="/bare")
    sides = {
        "other": Gunicorn("wsgi:app", env, root=other),
        "this": Gunicorn("wsgi:app", env),
    }
    runs: dict[tuple[str, str], list[LoadRun]] = {}
    try:
        plan = [("bare", bare, "/bare")]
        plan += [(side, server, path) for path in paths for side, server in sides.items()]
        for _, server, path in plan:
            load_run(server, path, 1)  # warm-up
        for _ in range(rounds):
            for side, server, path in plan:
                runs.setdefault((side, path), []).append(load_run(server, path, seconds))
    finally:
        for server in (bare, *sides.values()):
            server.stop()
    bare_rps = statistics.median(r.rps for r in runs[("bare", "/bare")])
    for (side, path), measured in runs.items():
        rps = statistics.median(r.rps for r in measured)
        cpu = [r.cpu_ms_per_request for r in measured]
        print(f"{side:6} {path:60} {rps:7.0f} req/s  x {rps / bare_rps:4.2f}  "
              f"CPU {spread(cpu)} ms/request")  # fmt: skip


def cold_starts(url: str, other: Path, pairs: int) -> None:
    times: dict[Path, list[float]] = {other: [], ROOT: []}
    for _ in range(pairs + 1):  # the first pair warms the page cache
        for root in times:
            times[root].append(cold_start.first_ok_s(url, 4, root))
    for root, measured in times.items():
        print(f"{root}: {spread(measured[1:])} s to the first 200")
    pairs_measured = zip(times[ROOT][1:], times[other][1:], strict=True)
    ratios = [this / before for this, before in pairs_measured]
    print("this / other, pair by pair: " + ", ".join(f"{r:.2f}" for r in ratios))


def lifecycles(url: str, other: Path, rounds: int, per_round: int) -> None:
    env = {"DATABASE_URL": url}
    sides = {"other": Gunicorn("wsgi:app", env, root=other), "this": Gunicorn("wsgi:app", env)}
    times: dict[str, list[float]] = {side: [] for side in sides}
    try:
        for server in sides.values():
            lifecycle_ms(server.url, 20)  # warm-up
        for _ in range(rounds):
            for side, server in sides.items():
                times[side] += lifecycle_ms(server.url, per_round)
    finally:
        for server in sides.values():
            server.stop()
    for side, measured in times.items():
        q1, median, q3 = statistics.quantiles(measured, n=4)
        print(f"{side:6} lifecycle, sequential: median {median:6.2f} ms "
              f"(quartiles {q1:.2f}-{q3:.2f}, {len(measured)} lifecycles)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the checkout to compare with")
    parser.add_argument(
        "--paths", default="/health,/get_feature_metadata/{name}?user_role=developer"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--cold-start", type=int, metavar="PAIRS", default=0)
    parser.add_argument("--lifecycles", type=int, metavar="N", default=0)
    parser.add_argument("--size", type=int, default=10_000, help="features stored")
    args = parser.parse_args()
    paths = args.paths.replace("{name}", feature_name(5_003)).split(",")
    with tempfile.TemporaryDirectory() as tmp, scratch_database("sqlite", Path(tmp), "") as url:
        fill(url, args.size)
        if args.cold_start:
            cold_starts(url, args.other.resolve(), args.cold_start)
        elif args.lifecycles:
            lifecycles(url, args.other.resolve(), args.rounds * 2, args.lifecycles)
        else:
            load(url, args.other.resolve(), paths, args.rounds, args.seconds)


if __name__ == "__main__":
    main()
