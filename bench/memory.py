"""Where a worker's memory goes (SPEC §6: <= 100 MB RSS per worker at all times).

Run: ``.venv/bin/python -m bench.memory [--backends sqlite postgresql] [--size 100]``.
The memory part of ``bench.core`` alone: ``gunicorn -c gunicorn.conf.py -w 2`` on a scratch
database of ``--size`` features, then the maximum-size ``POST /features`` requests
(``bench.core.MAX_SIZE_SHAPES``), after ``--load`` seconds of each of ``bench.core``'s
scenarios under wrk and a few lifecycles, as there (creates, approvals, lists grow a worker
too). For the master and each worker it prints RSS at start (the app imported and built,
one /health answered), the peak so far (VmHWM, what ``bench.core`` reports) after each
step, and after each shape the resident set now; beside RSS, the PSS and USS at start
(smaps_rollup): RSS counts in full the pages a worker shares with the master
(copy-on-write after the fork), PSS splits them among the processes sharing them.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.common import Gunicorn, load_run, memory_mb, run_memory_bench
from bench.core import MAX_SIZE_SHAPES
from bench.datasets import fill, scratch_database
from bench.scenarios import lifecycle_ms, scenarios, served_names, values_body, values_ms


def rollup_mb(pid: int) -> dict[str, float]:
    """RSS, PSS and USS (private clean + dirty) of a process, in MiB."""
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()

    def field(name: str) -> float:
        match = re.search(rf"^{name}:\s+(\d+) kB", text, re.M)
        return int(match.group(1)) / 1024 if match else float("nan")

    return {
        "rss": field("Rss"),
        "pss": field("Pss"),
        "uss": field("Private_Clean") + field("Private_Dirty"),
    }


def _line(label: str, values: list[float]) -> None:
    print(f"  {label:44}" + "".join(f" {v:8.1f}" for v in values))


def measure(
    backend: str, size: int, folder: Path, pg_admin_url: str, root: Path, seconds: int
) -> float:
    print(f"\n{backend}, {size:,} features: MiB per process (master, then each worker)")
    with scratch_database(backend, folder, pg_admin_url) as url:
        data = fill(url, size)
        app = Gunicorn("wsgi:app", {"DATABASE_URL": url}, root=root)
        try:
            master = app.process.pid
            workers = app.workers()
            start = [rollup_mb(pid) for pid in [master, *workers]]
            for kind in ("rss", "pss", "uss"):
                _line(f"at start: {kind.upper()}", [r[kind] for r in start])
            everyone = [master, *workers]
            for scenario in scenarios(data, folder) if seconds else []:  # as bench.core's load
                load_run(app, scenario.path, seconds, script=scenario.script)
                _line(f"after {scenario.label} ({seconds} s): peak",
                      [memory_mb(p, "VmHWM") for p in everyone])  # fmt: skip
            if seconds:
                lifecycle_ms(app.url, 10)
                _line("after 10 lifecycles: peak", [memory_mb(p, "VmHWM") for p in everyone])
            for n_features, n_rows in MAX_SIZE_SHAPES:
                body = values_body(served_names(data, n_features), n_features, n_rows)
                _, answer = values_ms(app.url, body, 2)
                label = f"after {n_features:,} x {n_rows:,} ({answer / 1e6:.0f} MB answer)"
                _line(f"{label}: peak", [memory_mb(p, "VmHWM") for p in everyone])
                _line(f"{'':{len(label)}}  now", [memory_mb(p, "VmRSS") for p in everyone])
            peak = max(app.worker_memory_mb("VmHWM"))
        finally:
            app.stop()
    print(f"  worker peak RSS: {peak:.1f} MiB (goal: <= 100)")
    return peak


def main() -> None:
    run_memory_bench(
        __doc__.split("\n\n")[0], measure, 100, 2, "seconds of wrk per scenario first (0: none)"
    )


if __name__ == "__main__":
    main()
