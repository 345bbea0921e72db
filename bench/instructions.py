"""Instructions per request, counted by valgrind's callgrind: a before/after that a loaded
machine does not move (two runs of the same code agree within about 1 %).

Run: ``.venv/bin/python -m bench.instructions create lifecycle keyed [--backend sqlite]``
(needs valgrind). For each scenario it runs a fresh interpreter under callgrind with
instrumentation off, builds the app on a scratch database (``--features``, default 1,000),
calls it as a WSGI application (as ``bench.request_tax``: no sockets, no gunicorn), warms
up, switches instrumentation on (``callgrind_control -i on``) and counts ``-n`` requests.
On PostgreSQL only the service's process is counted, not the server's. To count another
checkout's code: ``PYTHONPATH=/tmp/old/src .venv/bin/python -m bench.instructions …``
(with its ``migrations/`` beside its ``src/``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from bench.bare_app import app as bare_app
from bench.datasets import LIST_OWNER, PG_ADMIN_URL, feature_name, fill, scratch_database
from bench.request_tax import _start_response, environ
from bench.scenarios import lifecycle_steps, values_body
from feature_gateway.domain.versions import family_name

# Scenario → requests counted per run (a lifecycle is four).
DEFAULT_REQUESTS = {"bare": 300, "health": 300, "read": 200, "read_post": 200, "list": 100,
                    "values": 100, "serving": 100, "create": 50, "create_new_query": 50,
                    "keyed": 50, "lifecycle": 20, "ready_test": 50, "approve": 50,
                    "floor_health": 300, "floor_read": 200, "floor_values": 100}  # fmt: skip
# The floor of the stack (bench/floor_app.py, as bench.floor serves it): its /health, its
# read by name and its POST /features, the same requests as ``health``, ``read`` and
# ``values``.
_FLOOR = frozenset({"floor_health", "floor_read", "floor_values"})
# One trigger alone, a lifecycle step by its endpoint's name: each counted request fires it
# on a feature the steps before it brought there, uncounted (``_count``'s ``prepare``).
_TRIGGERS = {"ready_test": 1, "approve": 3}


def _name(i: int) -> str:
    return f"count_{os.getpid()}:f_{i}:1"


def _call(target: object, env: dict[str, object]) -> None:
    """One request to the WSGI app ``target``, its body read through."""
    for _chunk in target(env, _start_response):  # type: ignore[operator]
        pass


def _post_steps(app: object, steps: list[tuple[str, dict[str, Any]]]) -> None:
    """The lifecycle's ``steps`` (path, JSON body) posted in turn."""
    for path, body in steps:
        _call(app, environ("POST", path, "", json.dumps(body).encode()))


def _requests(app: object, kind: str, size: int) -> Callable[[int], None]:
    def call(env: dict[str, object], target: object = app) -> None:
        _call(target, env)

    values_request = values_body([feature_name(i) for i in range(0, 100, 10)], 10, 100)
    values = json.dumps(values_request)
    # The same features by Feast's refs (``view:feature``), as bench.scenarios asks.
    online = json.dumps({"features": [family_name(n) for n in values_request["features"]],
                         "entities": values_request["entities"]})  # fmt: skip

    def one(i: int) -> None:
        name = _name(i)
        if kind == "bare":
            call(environ("GET", "/bare"), bare_app)
        elif kind in ("health", "floor_health"):
            call(environ("GET", "/health"))
        elif kind in ("read", "floor_read"):
            call(environ("GET", f"/get_feature_metadata/{feature_name(size // 2)}",
                         "user_role=developer"))  # fmt: skip
        elif kind == "read_post":
            body = {"feature_name": feature_name(size // 2), "user_role": "developer"}
            call(environ("POST", "/get_feature_metadata", "", json.dumps(body).encode()))
        elif kind == "list":
            call(environ("GET", "/get_all_feature_metadata",
                         f"user_role=developer&created_by={LIST_OWNER}"))  # fmt: skip
        elif kind in ("values", "floor_values"):
            call(environ("POST", "/features", "", values.encode()))
        elif kind == "serving":
            call(environ("POST", "/get-online-features", "", online.encode()))
        elif kind in ("create", "create_new_query", "keyed"):
            path, body = lifecycle_steps(name)[0]
            if kind == "create_new_query":  # a query never checked before (domain.sql_check)
                body["query"] = f"SELECT value_{i} FROM source_{i} WHERE day = :day"
            env = environ("POST", path, "", json.dumps(body).encode())
            if kind == "keyed":
                env["HTTP_IDEMPOTENCY_KEY"] = f"key-{os.getpid()}-{i}"
            call(env)
        elif kind == "lifecycle":
            _post_steps(app, lifecycle_steps(name))
        elif kind in _TRIGGERS:
            step = _TRIGGERS[kind]
            _post_steps(app, lifecycle_steps(name)[step : step + 1])
        else:
            raise SystemExit(f"unknown scenario {kind}")

    return one


def inner(kind: str, n: int, url: str, size: int) -> None:
    """Runs under callgrind on the database at ``url`` (``count``'s, filled): instrumentation
    is switched on around the counted requests."""
    if kind in _FLOOR:
        os.environ["DATABASE_URL"] = url
        from bench import floor_app

        sys.stderr = open(os.devnull, "w")  # its access lines  # noqa: SIM115
        _count(_requests(floor_app.app, kind, size), n)
    from feature_gateway import create_app

    # The read counts' flusher writes every USAGE_FLUSH_S from its own thread, which
    # callgrind counts too: a flush in the window (the process's first, compiling the
    # upsert, about 75 M instructions) was charged to the requests. Its cost is per
    # interval, not per request; counting itself stays on.
    app = create_app({"database_url": url, "log_level": "INFO", "usage_flush_s": 3600.0})
    for handler in logging.getLogger("feature_gateway").handlers:
        handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115
    _count(_requests(app, kind, size), n, _before(app, kind))


def _before(app: object, kind: str) -> Callable[[int], None] | None:
    """For one trigger alone: the lifecycle's steps before it, for feature ``i``."""
    if kind not in _TRIGGERS:
        return None

    def prepare(i: int) -> None:
        _post_steps(app, lifecycle_steps(_name(i))[: _TRIGGERS[kind]])

    return prepare


def _count(
    one: Callable[[int], None], n: int, prepare: Callable[[int], None] | None = None
) -> NoReturn:
    for i in [*range(1_000_000, 1_000_020), *range(n)] if prepare else ():
        prepare(i)  # uncounted: instrumentation is still off
    for i in range(20):  # warm-up: compiled statements, first-request imports
        one(1_000_000 + i)  # names of their own (a negative number is no valid name)
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())],
                   capture_output=True, check=False)  # fmt: skip
    time.sleep(3)  # callgrind polls for the command
    for i in range(n):
        one(i)
    sys.stdout.flush()
    os._exit(0)  # nothing after the loop is counted


def count(kind: str, n: int, backend: str, size: int, profile: Path | None = None) -> float:
    # The scratch database is made, filled and dropped here: the process under callgrind
    # ends by os._exit, which would leave a PostgreSQL database behind.
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(backend, Path(tmp), PG_ADMIN_URL) as url,
    ):
        fill(url, size)
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={profile or tmp}/callgrind.{kind}.out", sys.executable, "-m",
             "bench.instructions", "--inner", kind, "-n", str(n), "--url", url,
             "--features", str(size)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None or int(found.group(1)) == 0:
        raise SystemExit(f"{kind}: callgrind counted nothing:\n{out.stderr[-2000:]}")
    return int(found.group(1)) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", default=["bare", "create", "lifecycle", "keyed"],
                        help=f"of {', '.join(DEFAULT_REQUESTS)}")  # fmt: skip
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--features", type=int, default=1_000)
    parser.add_argument("-n", type=int, help="requests counted (default: per scenario)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="keep each scenario's callgrind.<scenario>.out in DIR "
                        "(for callgrind_annotate --inclusive=yes)")  # fmt: skip
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.n, args.url, args.features)
        return
    for kind in args.scenarios:
        n = args.n or DEFAULT_REQUESTS[kind]
        per_request = count(kind, n, args.backend, args.features, args.profile)
        unit = "lifecycle (4 writes)" if kind == "lifecycle" else "request"
        print(f"{kind:10} {args.backend:10} {per_request / 1e6:8.3f} M instructions per {unit}"
              f" ({n} counted, {args.features:,} features)")  # fmt: skip


if __name__ == "__main__":
    main()
