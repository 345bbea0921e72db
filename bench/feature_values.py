"""Benchmark of ``POST /features``: in-process build/serialise time, latency and throughput.

Run from the checkout (it uses the checkout's ``src/``, starts and stops its own server):

    python bench/feature_values.py                 # the figures in docs/performance.md
    python bench/feature_values.py --duration 10 --features 1000 --workers 2

It creates a fresh SQLite database in a temporary folder, applies the migrations, imports
``--features`` DEPLOYED features (all data types, all feature types), then for each request
shape (features by entity rows) prints:

- in-process: median time of the use case (the query: the columns are computed lazily)
  and of writing the body (computing the columns block by block and serialising them),
  measured by calling them directly (no HTTP);
- end to end over loopback against ``gunicorn -w N`` (sync workers): median and p99
  latency of sequential requests from one client (no queueing);
- throughput: requests/s under ``wrk -t1 -c16`` (or, without wrk, 16 Python threads in a
  separate process), with that run's median and p99 latency.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

SHAPES = [(10, 100), (100, 1_000), (1_000, 10)]
FEATURE_TYPES = ("batch", "compute-first", "real-time")
DATA_TYPES = ("float", "double", "decimal", "integer", "int", "bigint", "boolean", "string")
EVENT_TIMESTAMP = 1_751_429_485_000
CONNECTIONS = 16


def feature_records(count: int) -> list[dict[str, Any]]:
    return [
        {
            "feature_name": f"bench_view_{i // 100}:feature_{i}:1",
            "feature_type": FEATURE_TYPES[i % len(FEATURE_TYPES)],
            "feature_data_type": DATA_TYPES[i % len(DATA_TYPES)],
            "query": f"SELECT feature_{i} FROM bench_view_{i // 100} WHERE driver_id = ?",
            "description": f"Benchmark feature {i}",
            "status": "DEPLOYED",
            "created_by": "bench",
            "deployed_by": "bench",
        }
        for i in range(count)
    ]


def prepare_database(url: str, n_features: int) -> list[str]:
    from alembic import command

    from feature_gateway.api.features.schemas import FeatureRecordSchema
    from feature_gateway.config import Settings
    from feature_gateway.db.engine import make_engine
    from feature_gateway.db.migrations import alembic_config
    from feature_gateway.db.scopes import Database
    from feature_gateway.services.transfer import import_features

    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    records = FeatureRecordSchema(many=True).load(feature_records(n_features))
    engine = make_engine(Settings(database_url=url))
    try:
        import_features(Database(engine), records, source="bench")
    finally:
        engine.dispose()
    return [r["feature_name"] for r in records]


def payload(names: list[str], n_features: int, n_rows: int) -> dict[str, Any]:
    return {
        "features": names[:n_features],
        "entities": {"driver_id": [f"D{i:05d}" for i in range(n_rows)]},
        "event_timestamp": EVENT_TIMESTAMP,
    }


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def in_process(url: str, body: dict[str, Any], repeat: int) -> dict[str, float]:
    """Median ms of the use case (now: the query; the columns are lazy) and of writing the
    body (now: computing the columns and serialising them), called directly."""
    from feature_gateway import create_app
    from feature_gateway.api.context import value_limits
    from feature_gateway.api.values.routes import render_online_features
    from feature_gateway.services.feature_values import ValuesRequest, get_online_features
    from feature_gateway.web.context import database

    app = create_app({"database_url": url, "log_level": "WARNING"})
    build, render = [], []
    with app.app_context():
        request = ValuesRequest(**body)
        for _ in range(repeat):
            started = time.perf_counter()
            result = get_online_features(database(), request, limits=value_limits())
            built = time.perf_counter()
            # The columns are computed as the body is written: consume all of it.
            render_online_features(result).get_data()
            render.append((time.perf_counter() - built) * 1000)
            build.append((built - started) * 1000)
        database().bind.dispose()  # type: ignore[union-attr]
    return {"build": statistics.median(build), "serialise": statistics.median(render)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(REPO / "src")}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--chdir",
        str(REPO),
        "wsgi:app",
    ]
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if request("GET", port, "/health")[0] == 200:
                return server, port
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit(f"server did not start; see {log}")


def request(method: str, port: int, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def sequential(port: int, body: bytes, count: int) -> list[float]:
    for _ in range(max(5, count // 10)):  # warm up both workers
        request("POST", port, "/features", body)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        status, _ = request("POST", port, "/features", body)
        samples.append((time.perf_counter() - started) * 1000)
        assert status == 200, status
    return samples


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("{path}", "rb"))
wrk.body = f:read("*a")
f:close()
"""


def throughput_wrk(port: int, body_file: Path, duration: int) -> dict[str, float]:
    script = body_file.with_suffix(".lua")
    script.write_text(WRK_SCRIPT.format(path=body_file))
    output = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{duration}s",
            "--timeout",
            "60s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/features",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk saw errors:\n{output}")

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        assert match, output
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]
        return float(match[1]) * scale

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert rps, output
    return {"rps": float(rps[1]), "p50": latency("50"), "p99": latency("99")}


def throughput_threads(port: int, body: bytes, duration: int) -> dict[str, float]:
    samples: list[float] = []
    stop = time.monotonic() + duration

    def worker() -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            status, _ = request("POST", port, "/features", body)
            samples.append((time.perf_counter() - started) * 1000)
            assert status == 200, status

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "rps": len(samples) / elapsed,
        "p50": statistics.median(samples),
        "p99": percentile(samples, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", type=int, default=1_000, help="deployed features")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--duration", type=int, default=5, help="seconds per throughput run")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests/shape")
    parser.add_argument("--no-wrk", action="store_true", help="use Python threads, not wrk")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    use_wrk = shutil.which("wrk") is not None and not args.no_wrk
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs; gunicorn -w {args.workers}; SQLite; "
        f"{args.features} deployed features; load: "
        f"{f'wrk -t1 -c{CONNECTIONS}' if use_wrk else f'{CONNECTIONS} Python threads'}"
    )
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fmg-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        names = prepare_database(url, args.features)
        server, port = start_server(url, args.workers, Path(tmp) / "server.log")
        try:
            for n_features, n_rows in SHAPES:
                body = payload(names, n_features, n_rows)
                raw = json.dumps(body).encode()
                body_file = Path(tmp) / f"body_{n_features}x{n_rows}.json"
                body_file.write_bytes(raw)
                status, answer = request("POST", port, "/features", raw)
                assert status == 200 and len(json.loads(answer)["results"]) == n_features + 1
                shape: dict[str, Any] = {
                    "shape": f"{n_features}x{n_rows}",
                    "response_bytes": len(answer),
                }
                shape.update(in_process(url, body, repeat=max(20, args.requests // 4)))
                latencies = sequential(port, raw, args.requests)
                shape["median"] = statistics.median(latencies)
                shape["p99"] = percentile(latencies, 0.99)
                shape["load"] = (
                    throughput_wrk(port, body_file, args.duration)
                    if use_wrk
                    else throughput_threads(port, raw, args.duration)
                )
                figures.append(shape)
                report(shape)
        finally:
            server.terminate()
            server.wait(timeout=30)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def report(s: dict[str, Any]) -> None:
    load = s["load"]
    print(
        f"{s['shape']:>10}  body {s['response_bytes'] / 1024:8.0f} KiB | in-process: "
        f"build {s['build']:6.2f} ms, serialise {s['serialise']:6.2f} ms, "
        f"total {s['build'] + s['serialise']:6.2f} ms | sequential: median "
        f"{s['median']:6.2f} ms, p99 {s['p99']:6.2f} ms | c={CONNECTIONS}: "
        f"{load['rps']:7.1f} req/s, median {load['p50']:7.2f} ms, p99 {load['p99']:7.2f} ms",
        flush=True,
    )


if __name__ == "__main__":
    main()
