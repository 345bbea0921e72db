"""Cold start: exec of ``gunicorn -c gunicorn.conf.py wsgi:app`` to the first 200 of /health.

Run: ``.venv/bin/python -m bench.cold_start [--workers 4] [--runs 5]``. Each run starts
gunicorn on a scratch SQLite database, asks /health every 5 ms until one answers 200,
then stops it; it prints the median and the spread. Then ``python -X importtime`` shows
what each worker imports and runs (``import wsgi``, which builds the app): once in a fresh
interpreter, as every worker did when nothing was imported before the fork, and once
after what ``gunicorn.conf.py`` imports in the master, as every worker does now.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

from bench.common import ROOT, free_port, load_average, spread
from bench.datasets import fill, scratch_database


def first_ok_s(url: str, workers: int, root: Path = ROOT) -> float:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(root / "src")}
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while time.monotonic() - started < 60:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    if r.status == 200:
                        return time.monotonic() - started
            except OSError:
                time.sleep(0.005)
        raise RuntimeError("gunicorn answered no 200 within 60 s")
    finally:
        server.terminate()
        server.wait(timeout=30)


def import_times(preamble: str) -> tuple[float, Counter[str]]:
    """ms that ``import wsgi`` takes after ``preamble``, and its self time by package."""
    code = f"{preamble}\nimport wsgi"
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, capture_output=True,
        text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    ).stderr  # fmt: skip
    entries = re.findall(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", stderr)
    # Completion order: everything after the last root before ``wsgi`` came with it.
    roots = [i for i, (_, _, indent, _) in enumerate(entries) if len(indent) == 1]
    mine = entries[roots[-2] + 1 : roots[-1] + 1] if len(roots) > 1 else entries
    by_package: Counter[str] = Counter()
    for self_us, _, _, name in mine:
        by_package[name.split(".")[0]] += int(self_us)
    return int(entries[roots[-1]][1]) / 1000, by_package


def report_imports(label: str, preamble: str) -> None:
    total, by_package = import_times(preamble)
    print(f"\n{label}: import wsgi (imports + create_app) {total:.0f} ms; self time by package:")
    for package, us in by_package.most_common(10):
        print(f"  {us / 1000:7.1f} ms  {package}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"load {load_average()}")
    with tempfile.TemporaryDirectory() as tmp, scratch_database("sqlite", Path(tmp), "") as url:
        fill(url, 100)
        first_ok_s(url, args.workers)  # warm-up: the page cache holds the code afterwards
        runs = [first_ok_s(url, args.workers) for _ in range(args.runs)]
    print(f"gunicorn -w {args.workers}, exec to the first 200 of /health: {spread(runs)} s "
          f"(median, min-max of {args.runs}; goal <= 2 s)")  # fmt: skip
    report_imports("a worker in a fresh interpreter", "")
    report_imports("a worker after the master's imports", "exec(open('gunicorn.conf.py').read())")
    print(f"\nload {load_average()}")


if __name__ == "__main__":
    main()
