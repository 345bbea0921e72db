"""The per-request tax in process: CPU µs per request of each endpoint, no HTTP, no load.

Run: ``.venv/bin/python -m bench.request_tax``. Builds the app on a scratch SQLite
database (10,000 features), calls it as a WSGI application, exactly as gunicorn does but
without sockets, and reports the thread CPU time per request (median of 7 batches, and
the spread) beside the bare Flask endpoint's; then the writes of a lifecycle (create,
ready_test, test, approve), each the median over ``--lifecycles`` of them. Thread CPU
time, not the wall clock, so other processes on a shared machine move the figures less.
Log lines go to /dev/null, formatted as in production.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.bare_app import app as bare_app
from bench.datasets import LIST_OWNER, feature_name, fill, scratch_database
from bench.scenarios import lifecycle_steps, values_body

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def environ(method: str, path: str, query: str = "", body: bytes = b"") -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False,
    }  # fmt: skip
    if body:
        env.update(CONTENT_TYPE="application/json", CONTENT_LENGTH=str(len(body)))
    return env


def _start_response(status: str, headers: Any, exc_info: Any = None) -> None:
    if not status.startswith("2"):
        raise RuntimeError(f"the benchmark's request failed: {status}")


def cpu_us_per_request(app: Wsgi, request: tuple[str, str, str, bytes], n: int) -> list[float]:
    batches = []
    for _ in range(7):
        started = time.thread_time_ns()
        for _ in range(n):
            for _chunk in app(environ(*request), _start_response):
                pass
        batches.append((time.thread_time_ns() - started) / n / 1000)
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", type=int, default=10_000)
    parser.add_argument("-n", type=int, default=1_000, help="requests per batch")
    parser.add_argument("--lifecycles", type=int, default=300)
    args = parser.parse_args()
    name = feature_name(args.features // 2)
    read = json.dumps({"feature_name": name, "user_role": "developer"}).encode()
    requests = {
        "bare Flask endpoint": ("GET", "/bare", "", b""),
        "/livez": ("GET", "/livez", "", b""),
        "/health": ("GET", "/health", "", b""),
        "read by name, GET": ("GET", f"/get_feature_metadata/{name}", "user_role=developer",
                              b""),
        "read by name, POST": ("POST", "/get_feature_metadata", "", read),
        "filtered list, page of 100": ("GET", "/get_all_feature_metadata",
                                       f"user_role=developer&created_by={LIST_OWNER}", b""),
        "POST /features 10 x 100": ("POST", "/features", "", json.dumps(values_body(
            [feature_name(i) for i in range(0, 100, 10)], 10, 100)).encode()),
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, scratch_database("sqlite", Path(tmp), "") as url:
        fill(url, args.features)
        from feature_gateway import create_app

        app = create_app({"database_url": url, "log_level": "INFO"})
        for handler in logging.getLogger("feature_gateway").handlers:
            handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115
        bare = None
        for label, request in requests.items():
            target = bare_app if request[1] == "/bare" else app
            batches = cpu_us_per_request(target, request, args.n)
            median = statistics.median(batches)
            bare = bare or median
            print(f"{label:28} {median:7.1f} µs  ({min(batches):.1f}-{max(batches):.1f})"
                  f"  +{median - bare:6.1f} over bare")  # fmt: skip
        write_steps(app, args.lifecycles)


def write_steps(app: Wsgi, lifecycles: int) -> None:
    """CPU µs of each write of a lifecycle, median over ``lifecycles`` new features."""
    steps: dict[str, list[float]] = {}
    for i in range(lifecycles + 20):  # the first 20 warm up
        for path, body in lifecycle_steps(f"tax_v:f_{i}:1"):
            started = time.thread_time_ns()
            for _chunk in app(environ("POST", path, "", json.dumps(body).encode()),
                              _start_response):  # fmt: skip
                pass
            if i >= 20:
                steps.setdefault(path, []).append((time.thread_time_ns() - started) / 1000)
    for path, times in steps.items():
        print(f"{path:28} {statistics.median(times):7.1f} µs  (median of {len(times)})")
    total = [sum(step) for step in zip(*steps.values(), strict=True)]
    print(f"{'lifecycle, 4 writes':28} {statistics.median(total):7.1f} µs")


if __name__ == "__main__":
    main()
