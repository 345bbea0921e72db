"""Where a request's time goes on a real gunicorn worker: py-spy samples, by hook.

Run: ``.venv/bin/python -m bench.profile_worker [--path /health]`` (needs wrk and py-spy:
``pip install py-spy``; py-spy reads the worker's memory, so run it as root or with
ptrace allowed). It starts ``gunicorn -c gunicorn.conf.py -w 1`` on a scratch SQLite
database, loads one path with ``wrk -t1 -c16``, samples the worker with py-spy meanwhile,
and prints each part's share of the worker's samples and the worker CPU µs per request
that share stands for (from /proc, over the same run).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.common import Gunicorn, load_run, process_cpu_s
from bench.datasets import feature_name, fill, scratch_database
from bench.scenarios import create_script

# A sample belongs to the first part whose marker is one of its frames (most specific first).
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("after_request: metrics", ("request_answered (",)),
    ("after_request: access log line", ("_request_done (", "logging/__init__.py")),
    ("before_request (request id, body checks, in-progress gauge)", ("._start (",)),
    ("teardown (in-progress gauge)", ("._done (",)),
    ("after_request: the rest", ("._finish (",)),
    # The service's own db/ package too (below): its hot reads call the driver directly.
    # A write's own parts (most specific first, as above); none of them is in a read.
    (
        "write: the feature row's Core INSERT or UPDATE (db.feature_writes)",
        ("insert_feature (", "update_feature ("),
    ),
    ("commit: the ORM flush (rows the ORM still writes)", ("Session.flush (",)),
    ("commit: history and change-log inserts (db.appended)", ("insert_appended (",)),
    ("commit: COMMIT", ("Session.commit (",)),
    ("write: name check, BEGIN IMMEDIATE", ("FeatureRepository.stored_as (",)),
    ("request: the query's read-only check (sqlglot)", ("check_read_only_query (",)),
    # A list page's own parts.
    ("list: the page's JSON written by the database, fetched", ("read_page_json (",)),
    ("list: rows into field name -> value (feature_rows)", ("feature_rows (",)),
    ("list: the statement run, rows fetched by the driver", ("fetch_all (",)),
    ("response: JSON written by orjson", ("OrjsonProvider.response (",)),
    (
        "database (db/, SQLAlchemy, driver)",
        ("feature_gateway/db/", "sqlalchemy/", "psycopg/", "sqlite3/"),
    ),
    ("view and services (feature_gateway)", ("feature_gateway/",)),
    ("flask-smorest, webargs, marshmallow", ("flask_smorest/", "webargs/", "marshmallow/")),
    ("Flask, werkzeug (context, routing, response)", ("flask/", "werkzeug/")),
    ("gunicorn (accept, parse, write, close)", ("gunicorn/",)),
)


def part_of(stack: str) -> str:
    for label, markers in PARTS:
        if any(marker in stack for marker in markers):
            return label
    return "other"


def shares(folded: Path) -> dict[str, float]:
    counts: collections.Counter[str] = collections.Counter()
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        # A frame whose name holds a line break (a lambda's source, say) splits its stack
        # over two lines: the first ends without a count, the second is counted alone.
        if stack and count.isdigit():
            counts[part_of(stack)] += int(count)
    total = sum(counts.values()) or 1
    return {label: counts[label] / total for label, _ in (*PARTS, ("other", ()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default="/health", help="what to load (GET)")
    parser.add_argument(
        "--create",
        action="store_true",
        help="load creates of new features instead (bench.scenarios)",
    )
    parser.add_argument("--features", type=int, default=10_000, help="features stored")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--samples", type=Path, help="also keep py-spy's raw samples here")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    path = args.path.replace("{name}", feature_name(args.features // 2))
    with (
        tempfile.TemporaryDirectory(prefix="fmg-profile-") as tmp,
        scratch_database("sqlite", Path(tmp), "") as url,
    ):
        fill(url, args.features)
        server = Gunicorn("wsgi:app", {"DATABASE_URL": url}, workers=1)
        script = create_script(Path(tmp) / "create.lua") if args.create else None
        if args.create:
            path = "/create_feature_metadata"
        try:
            load_run(server, path, 1, script=script)  # warm-up
            [worker] = server.workers()
            folded = Path(tmp) / "samples.txt"
            record = [py_spy, "record", "--pid", str(worker), "--rate", "400", "--nonblocking",
                      "--format", "raw", "--output", str(folded),
                      "--duration", str(args.seconds - 1)]  # fmt: skip
            spy = threading.Thread(target=subprocess.run, args=(record,),
                                   kwargs={"capture_output": True, "check": True})  # fmt: skip
            cpu_before = process_cpu_s(worker)
            spy.start()
            run = load_run(server, path, args.seconds, script=script)
            spy.join()
            worker_us = (process_cpu_s(worker) - cpu_before) * 1e6 / run.requests
        finally:
            server.stop()
        if args.samples:
            shutil.copy(folded, args.samples)
        method = "POST" if args.create else "GET"
        print(f"{method} {path}: {run.rps:.0f} req/s, worker CPU {worker_us:.0f} µs/request "
              f"(master and worker: {run.cpu_ms_per_request * 1000:.0f})")  # fmt: skip
        for label, share in shares(folded).items():
            print(f"  {share:6.1%}  {share * worker_us:6.0f} µs  {label}")


if __name__ == "__main__":
    main()
