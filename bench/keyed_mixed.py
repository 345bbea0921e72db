"""What a key adds to a create, measured in the same load as the create (docs/performance.md,
"i32-keyed").

Run: ``.venv/bin/python -m bench.keyed_mixed [--backends sqlite postgresql] [--workers 2]
[--rounds 6] [--seconds 3]``. ``bench.core`` loads creates, then keyed creates, each alone,
and divides their server CPU per request: on two cores shared with other work, one round's
ratio moves by 0.2 to 0.3 either way, and an all-keyed load is a regime of its own (on SQLite the
writers' lock is held twice as long per request, so a worker waits for it longer and more
often). Here one ``wrk`` run sends creates and keyed creates by turns, so both kinds meet
the same load; each worker counts the CPU of its calls by kind (``bench.keyed_split_app``),
and what gunicorn spends around the calls (the process's CPU less the calls') is added to
both kinds alike. In the same rounds it also loads creates alone and keyed creates alone,
as ``bench.core`` does, so the two figures are read side by side.

Prints per round and their median: the app's CPU per call of each kind and their ratio, the
server-level ratio (with gunicorn's share), and the all-keyed / all-unkeyed ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections.abc import Iterable
from pathlib import Path

from bench.common import ROOT, Gunicorn, load_average, load_run
from bench.datasets import PG_ADMIN_URL, fill, scratch_database
from bench.scenarios import create_script


def read_totals(folder: Path, pids: Iterable[int]) -> dict[str, tuple[float, float]]:
    """Calls and CPU seconds by kind (``bench.keyed_split_app``), summed over ``pids``."""
    summed = {"keyed": [0.0, 0.0], "unkeyed": [0.0, 0.0]}
    for pid in pids:
        try:
            totals = json.loads((folder / str(pid)).read_text())
        except FileNotFoundError:
            continue
        for kind, (calls, cpu_s) in totals.items():
            summed[kind][0] += calls
            summed[kind][1] += cpu_s
    return {kind: (calls, cpu_s) for kind, (calls, cpu_s) in summed.items()}


def measure(url: str, args: argparse.Namespace, folder: Path) -> None:
    stats = folder / "split"
    stats.mkdir(exist_ok=True)
    mixed = create_script(folder / "mixed.lua", every_other=True)
    alone = {
        "unkeyed": create_script(folder / "create.lua"),
        "keyed": create_script(folder / "keyed.lua", keyed=True),
    }
    server = Gunicorn(
        "bench.keyed_split_app:app",
        {"DATABASE_URL": url, "KEYED_SPLIT_DIR": str(stats)},
        workers=args.workers,
        log=folder / "server.log",
        root=args.root,
    )
    rows: list[dict[str, float]] = []
    try:
        for script in (mixed, *alone.values()):  # warm-up
            load_run(server, "/", 1, script=script)
        for round_ in range(args.rounds):
            before = read_totals(stats, server.workers())
            run = load_run(server, "/", args.seconds, script=mixed)
            after = read_totals(stats, server.workers())
            per_call = {}
            calls = cpu_s = 0.0
            for kind in ("keyed", "unkeyed"):
                n = after[kind][0] - before[kind][0]
                used = after[kind][1] - before[kind][1]
                per_call[kind] = used * 1000 / n
                calls, cpu_s = calls + n, cpu_s + used
            # What the process spent per request beyond the calls counted (gunicorn's
            # accept, parse, write, close; the master): the same for both kinds.
            around = run.cpu_ms_per_request - cpu_s * 1000 / calls
            separate = {k: load_run(server, "/", args.seconds, script=s) for k, s in alone.items()}
            rows.append({
                "keyed": per_call["keyed"], "unkeyed": per_call["unkeyed"], "around": around,
                "app": per_call["keyed"] / per_call["unkeyed"],
                "server": (per_call["keyed"] + around) / (per_call["unkeyed"] + around),
                "alone": separate["keyed"].cpu_ms_per_request
                / separate["unkeyed"].cpu_ms_per_request,
            })  # fmt: skip
            row = rows[-1]
            print(
                f"  round {round_ + 1}: app keyed {row['keyed']:.3f} / unkeyed"
                f" {row['unkeyed']:.3f} ms = {row['app']:.2f}, around the calls"
                f" {row['around']:.3f} ms, server {row['server']:.2f};"
                f" loaded alone {row['alone']:.2f} (load {load_average()})",
                flush=True,
            )
    finally:
        server.stop()
    median = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
    print(
        f"  median: keyed / unkeyed server CPU, in one load {median['server']:.2f} (the"
        f" app's {median['app']:.2f}); each loaded alone {median['alone']:.2f}"
        f" (spread {min(r['alone'] for r in rows):.2f}-{max(r['alone'] for r in rows):.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--size", type=int, default=10_000, help="features stored")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk run")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="serve another checkout's code (with this bench/)"
    )
    args = parser.parse_args()
    print(f"gunicorn -w {args.workers}, wrk -t1 -c16, {args.seconds} s x {args.rounds};"
          f" load {load_average()}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="fmg-keyed-") as tmp:
        folder = Path(tmp)
        for backend in args.backends:
            print(f"{backend}, {args.size:,} features:")
            with scratch_database(backend, folder, args.pg_admin_url) as url:
                fill(url, args.size)
                measure(url, args, folder)


if __name__ == "__main__":
    main()
