"""Every SPEC §6 figure, each beside a bare Flask endpoint measured in the same run.

Run: ``.venv/bin/python -m bench.core`` (``make bench``; ``--quick`` for a short run). Needs
wrk (``apt-get install wrk``) and, for the PostgreSQL half, the server at 127.0.0.1:5432.

For each database (SQLite, PostgreSQL) and table size (100, 10,000, 100,000 features, 10 %
deployed) it starts ``gunicorn -c gunicorn.conf.py -w 2 wsgi:app`` and, in rounds, loads
the bare endpoint (``bench/bare_app.py`` under the same gunicorn settings, running all
along) and then each scenario with ``wrk -t1 -c16``. A ratio is a scenario's throughput
over the bare endpoint's in the same round; the table shows the median over rounds and,
with more than one round, the spread. CPU ms per request is the server's: master and
workers, user + system, from /proc; on PostgreSQL also the database backends' its workers
hold connections to (``bench.common.database_backends``), printed in a table of their
own. It then times the lifecycle and POST /features 100 x 1,000 sequentially, and reads
the workers' peak RSS after maximum-size requests.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    Gunicorn,
    LoadRun,
    developer_jwt,
    load_average,
    load_run,
    percentile,
    spread,
    token_mode_env,
)
from bench.datasets import PG_ADMIN_URL, Dataset, fill, scratch_database
from bench.scenarios import (
    Scenario,
    lifecycle_ms,
    scenarios,
    served_names,
    values_body,
    values_ms,
    with_bearer,
)
from tests.oidc_issuer import OidcIssuer

SIZES = (100, 10_000, 100_000)
MAX_SIZE_SHAPES = ((1_000, 1_000), (100, 10_000))  # both 1,000,000 values
JWT_TAX = "JWT, token mode"
# The costs each newer feature adds, measured beside the figure it taxes (issue 26): a
# second server with the feature switched the other way, loaded in the same rounds.
# (what the second server does, its settings (the database's URL for "{url}"), the
# backends it applies to, the scenarios it is loaded with)
TAXES: tuple[tuple[str, dict[str, str], tuple[str, ...], tuple[str, ...]], ...] = (
    ("read counting off", {"USAGE_COUNTING": "false"}, ("sqlite", "postgresql"),
     ("POST /features 10 x 100", "POST /get-online-features 10 x 100")),
    # A read URL naming the primary itself: the routing's decisions and lag checks, the
    # reads then served by the primary (no replica on the machine).
    ("read routing on", {"DATABASE_READ_URL": "{url}"}, ("postgresql",),
     ("read by name, GET", "filtered list, page of 100")),
    # SPEC §12: token mode with OIDC on (token_mode_env: the bench's issuer), each request
    # carrying a developer's JWT; the same trust-mode scripts, whose user_role and actor
    # the JWT's role and principal allow. Its RS256 signature check (key cached) and token
    # mode's role check.
    (JWT_TAX, {}, ("sqlite", "postgresql"), ("read by name, GET", "create")),
)  # fmt: skip


def measure_block(
    data: Dataset, bare: Gunicorn, args: argparse.Namespace, folder: Path, issuer: OidcIssuer
) -> dict[str, Any]:
    def server(env: dict[str, str]) -> Gunicorn:
        env = {"DATABASE_URL": data.url, **{k: v.format(url=data.url) for k, v in env.items()}}
        return Gunicorn("wsgi:app", env, log=folder / "server.log", root=args.root)

    backend = "sqlite" if data.url.startswith("sqlite") else "postgresql"
    servers = {"": server({})}
    try:
        plan = [(s.label, servers[""], s) for s in scenarios(data, folder)]
        by_label = {s.label: s for _, _, s in plan}
        jwt = developer_jwt(issuer)  # valid for the hour; a block takes minutes
        for tax, env, backends, taxed in TAXES:
            if backend in backends and not args.no_taxes:
                servers[tax] = server(token_mode_env(issuer) if tax == JWT_TAX else env)
                for label in taxed:
                    scenario = by_label[label]
                    if tax == JWT_TAX:
                        lua = folder / f"jwt-{len(plan)}.lua"
                        scenario = with_bearer(scenario, jwt, lua)
                    plan.append((f"{label} [{tax}]", servers[tax], scenario))
        app = servers[""]
        # The reads, then the sequential figures, then the creates: every figure but the
        # creates' on the table as filled (``_load``).
        summaries = _load(plan, bare, args, writes=False)
        sequential = _sequential(app, data, args)
        summaries.update(_load(plan, bare, args, writes=True))
        in_order = {label: summaries[label] for label, _, _ in plan}
        block = {"rows": len(data.names), "scenarios": in_order, **sequential}
        block["worker_peak_rss_mb"] = max(app.worker_memory_mb("VmHWM"))
    finally:
        for running in servers.values():
            running.stop()
    return block


def _load(
    plan: list[tuple[str, Gunicorn, Scenario]],
    bare: Gunicorn,
    args: argparse.Namespace,
    *,
    writes: bool,
) -> dict[str, Any]:
    """The plan's reads (``writes=False``) or its creates under wrk, in rounds, each round
    after a run of the bare endpoint.

    The reads run, and the sequential figures are taken, before the creates are warmed up
    and run: a create's run adds a thousand rows or more, so a figure taken after one
    measured the smallest table at ten times and more its size, against statistics
    (ANALYZE) of 100 rows, which made the list page's count scan the table on SQLite and
    the lookups of `POST /features` on PostgreSQL (docs/performance.md, "Round four";
    until round seven the creates ran last in each round, so every read round after the
    first met them, and so did the sequential `POST /features` 100 x 1,000)."""
    phase = [entry for entry in plan if _writes(entry[2]) == writes]
    for _, app, scenario in phase:  # warm-up: connections, caches, first-request imports
        load_run(app, scenario.path, args.warmup, script=scenario.script)
    runs: dict[str, list[tuple[LoadRun, LoadRun]]] = {label: [] for label, _, _ in phase}
    for _ in range(args.rounds):
        baseline = load_run(bare, "/bare", args.seconds)
        for label, app, scenario in phase:
            run = load_run(app, scenario.path, args.seconds, script=scenario.script)
            runs[label].append((run, baseline))
    return {label: _summary(label, runs[label], s.goal) for label, _, s in phase}


def _writes(scenario: Scenario) -> bool:
    """Whether the scenario adds rows (the creates)."""
    return scenario.label.startswith("create")


def _sequential(app: Gunicorn, data: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    """Lifecycle and POST /features 100 x 1,000 latency, then maximum-size requests."""
    life = lifecycle_ms(app.url, args.lifecycles)
    body = values_body(served_names(data, 100), 100, 1_000)
    values, _ = values_ms(app.url, body, args.values_runs)
    for n_features, n_rows in MAX_SIZE_SHAPES:
        values_ms(app.url, values_body(served_names(data, n_features), n_features, n_rows), 2)
    return {
        "lifecycle_ms": {"median": statistics.median(life), "p99": percentile(life, 0.99)},
        "values_100x1000_ms": {
            "median": statistics.median(values),
            "p99": percentile(values, 0.99),
        },
    }


def _summary(label: str, pairs: list[tuple[LoadRun, LoadRun]], goal: float) -> dict[str, Any]:
    ratios = [run.rps / baseline.rps for run, baseline in pairs]
    if any(run.non_2xx for run, _ in pairs):
        raise SystemExit(f"{label}: non-2xx answers under load: {pairs}")
    return {
        "rps": statistics.median(run.rps for run, _ in pairs),
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "goal": goal,
        "cpu_ms": statistics.median(run.cpu_ms_per_request for run, _ in pairs),
        "bare_rps": statistics.median(b.rps for _, b in pairs),
        "bare_cpu_ms": statistics.median(b.cpu_ms_per_request for _, b in pairs),
        "p99_ms": statistics.median(run.p99_ms for run, _ in pairs),
        "database_cpu_ms": (
            statistics.median(run.database_cpu_ms_per_request or 0.0 for run, _ in pairs)
            if pairs and pairs[0][0].database_cpu_ms_per_request is not None
            else None
        ),
    }


def report(backend: str, blocks: list[dict[str, Any]]) -> None:
    """One line per scenario: for each table size, req/s, x bare (median, spread over
    rounds), server CPU ms per request and the CPU ratio (bare's CPU per request over the
    scenario's: what the throughput ratio tends to when the machine is shared)."""
    print(f"\n{backend}: req/s | x bare (min-max) | server CPU ms/req | bare CPU / CPU")
    head = "".join(f" | {b['rows']:>36,}" for b in blocks)
    print(f"{'features stored':30}{head} | flat: x bare, CPU")
    health = [b["scenarios"]["/health"] for b in blocks]
    bare = "".join(
        f" | {s['bare_rps']:7.0f} {'1':>16} {s['bare_cpu_ms']:6.3f} {'1':>4}" for s in health
    )
    print(f"{'bare Flask endpoint':30}{bare}")
    for label in blocks[0]["scenarios"]:
        figures = [b["scenarios"][label] for b in blocks]
        cells = "".join(
            f" | {f['rps']:7.0f} {spread(f['ratios']):>16} {f['cpu_ms']:6.3f}"
            f" {f['bare_cpu_ms'] / f['cpu_ms']:4.2f}"
            for f in figures
        )
        # Largest table against the smallest, by ratio (SPEC §6) and by CPU per request.
        flat = figures[-1]["ratio"] / figures[0]["ratio"] - 1
        flat_cpu = figures[-1]["cpu_ms"] / figures[0]["cpu_ms"] - 1
        name = f"{label} (goal {figures[0]['goal']:.2f})"
        print(f"{name:30}{cells} | {flat:+.0%}, {flat_cpu:+.0%}")
    _report_database_cpu(blocks)
    for key, label, goal in (
        ("lifecycle_ms", "lifecycle, sequential ms", "10"),
        ("values_100x1000_ms", "POST /features 100x1000 ms", "50"),
    ):
        cells = "".join(
            f" | median {b[key]['median']:8.2f}  p99 {b[key]['p99']:8.2f}     " for b in blocks
        )
        print(f"{label:30}{cells} | goal: median <= {goal}")
    peaks = "".join(f" | {b['worker_peak_rss_mb']:36.0f}" for b in blocks)
    print(f"{'worker peak RSS MB (max size)':30}{peaks} | goal: <= 100")
    _report_costs(blocks)


def _report_database_cpu(blocks: list[dict[str, Any]]) -> None:
    """PostgreSQL: its backends' CPU ms per request (those the workers hold connections
    to, bench.common.database_backends), and bare's CPU per request over the workers' and
    the backends' together: the server shares the cores, so a throughput ratio pays both."""
    labels = [label for label, f in blocks[0]["scenarios"].items()
              if f.get("database_cpu_ms") is not None]  # fmt: skip
    if not labels:
        return
    print(f"{'PostgreSQL backends':30}" + " | database CPU ms/req, bare CPU / (server + database)"
          " CPU" * len(blocks))  # fmt: skip
    for label in labels:
        figures = [b["scenarios"][label] for b in blocks]
        cells = "".join(
            f" | {f['database_cpu_ms']:6.3f}"
            f" {f['bare_cpu_ms'] / (f['cpu_ms'] + f['database_cpu_ms']):4.2f}{'':>25}"
            for f in figures
        )
        print(f"{label[:30]:30}{cells}")


def _report_costs(blocks: list[dict[str, Any]]) -> None:
    """The keyed create against the create, and each tax: the server CPU per request it
    adds (or, for a feature switched off, saves) and the ratios with and without."""
    for b in blocks:
        figures = b["scenarios"]
        keyed, plain = figures["create, Idempotency-Key"], figures["create"]
        print(f"{b['rows']:>7,} features: keyed create / create, server CPU"
              f" {keyed['cpu_ms'] / plain['cpu_ms']:.2f} (goal <= 1.3), req/s"
              f" {plain['rps'] / keyed['rps']:.2f}")  # fmt: skip
        for label, taxed in figures.items():
            if not label.endswith("]"):
                continue
            base = figures[label[: label.rindex(" [")]]
            print(f"{b['rows']:>7,} features: {label}: x bare {taxed['ratio']:.2f} vs"
                  f" {base['ratio']:.2f}, server CPU {taxed['cpu_ms'] - base['cpu_ms']:+.3f}"
                  " ms per request")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=4, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs per scenario and size")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up wrk run per scenario")
    parser.add_argument("--lifecycles", type=int, default=40)
    parser.add_argument("--values-runs", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--quick", action="store_true", help="one round of 2 s runs")
    parser.add_argument("--no-taxes", action="store_true", help="no second servers (TAXES)")
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="serve another checkout's code (its src/, wsgi.py, gunicorn.conf.py)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--report", type=Path, help="print the tables of an earlier --json")
    args = parser.parse_args()
    if args.report:
        for backend, blocks in json.loads(args.report.read_text()).items():
            report(backend, blocks)
        return
    if args.quick:
        args.seconds, args.rounds, args.lifecycles, args.values_runs = 2, 1, 20, 10
    print(
        f"python {platform.python_version()}, {platform.machine()}; gunicorn -c gunicorn.conf.py"
        f" -w 2; wrk -t1 -c16, {args.seconds} s x {args.rounds}; load {load_average()}"
    )
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="fmg-bench-") as tmp:
        folder = Path(tmp)
        issuer = OidcIssuer()  # discovery and keys for the JWT tax, on loopback
        bare = Gunicorn("bench.bare_app:app", {}, ready_path="/bare")
        try:
            for backend in args.backends:
                results[backend] = []
                for size in args.sizes:
                    with scratch_database(backend, folder, args.pg_admin_url) as url:
                        block = measure_block(fill(url, size), bare, args, folder, issuer)
                    results[backend].append(block)
                report(backend, results[backend])
        finally:
            bare.stop()
            issuer.stop()
    print(f"\nload average at the end: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
