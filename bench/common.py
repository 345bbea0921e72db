"""Shared benchmark plumbing: a scratch database, gunicorn processes, wrk runs."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from feature_gateway.domain.names import canonical_feature_name

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_751_429_485_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def migrated_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env,
                   check=True, capture_output=True)  # fmt: skip
    return url


def seed_features(db_path: Path, count: int, deployed_share: float = 0.1) -> list[str]:
    """Insert ``count`` features directly (fast); every 1/deployed_share-th is DEPLOYED."""
    types = ["batch", "real-time", "compute-first"]
    dtypes = ["float", "double", "integer", "bigint", "boolean", "string", "decimal", "int"]
    every = max(1, round(1 / deployed_share)) if deployed_share else 0
    rows = []
    for i in range(count):
        deployed = bool(every) and i % every == 0
        rows.append((
            f"bench_view_{i // 100}:feature_{i}:1",
            canonical_feature_name(f"bench_view_{i // 100}:feature_{i}:1"),
            types[i % 3], dtypes[i % 8],
            f"SELECT f{i} FROM t WHERE id = ?", f"Benchmark feature number {i}",
            "DEPLOYED" if deployed else "DRAFT", T0 + i, T0 + i, f"dev{i % 20}", 1,
        ))  # fmt: skip
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "INSERT INTO features (feature_name, canonical_name, feature_type,"
            " feature_data_type, query, description, status, created_time, updated_time,"
            " created_by, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute(
            "INSERT INTO feature_audit (feature_id, from_status, to_status, trigger, actor,"
            " timestamp) SELECT id, NULL, status, 'import', created_by, created_time"
            " FROM features"
        )
    return [r[0] for r in rows]


class Gunicorn:
    def __init__(self, app: str, env: dict[str, str], workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
             f"127.0.0.1:{self.port}", "--log-level", "warning", app],
            cwd=ROOT, env={**os.environ, "LOG_LEVEL": "WARNING", **env},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    time.sleep(0.3)
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{app} did not start")

    def worker_rss_mb(self) -> list[float]:
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        sizes = []
        for pid in children:
            status = Path(f"/proc/{pid}/status").read_text()
            match = re.search(r"VmRSS:\s+(\d+) kB", status)
            if match:
                sizes.append(int(match.group(1)) / 1024)
        return sizes

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


def wrk(
    url: str,
    seconds: int = 5,
    connections: int = 16,
    script: Path | None = None,
    timeout_s: int = 2,
) -> dict[str, float]:
    """Requests/s and latency percentiles (ms) from one wrk run; responses slower than
    ``timeout_s`` are counted as errors, not requests."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
            f"--timeout={timeout_s}s"]  # fmt: skip
    if script is not None:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": _latency(out, "50%"), "p99_ms": _latency(out, "99%"),
            "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0}  # fmt: skip


def _latency(out: str, label: str) -> float:
    match = re.search(rf"\s{re.escape(label)}\s+([\d.]+)(us|ms|s)", out)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
