"""Shared benchmark plumbing: gunicorn processes and their CPU and memory, wrk runs.

Every server is started the way production starts it, ``gunicorn -c gunicorn.conf.py``,
so the bare Flask app and the service run under the same settings in every run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.datasets import PG_ADMIN_URL, store_feature_json_at
from feature_gateway.domain.names import canonical_feature_name
from feature_gateway.domain.versions import family_name, version_key
from tests.oidc_issuer import AUDIENCE, ROLE_MAP, OidcIssuer

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_751_429_485_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process, all its threads (from /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def database_backends(pids: Sequence[int], admin_url: str = PG_ADMIN_URL) -> list[int]:
    """The PostgreSQL server processes serving the connections that the processes ``pids``
    hold open to a server on this machine: each process's TCP sockets (``/proc/<pid>/fd``)
    matched by inode to their local ports (``/proc/<pid>/net/tcp``), and those ports to
    ``pg_stat_activity.client_port``. So a backend's CPU is charged to the server whose
    worker holds it, whichever other servers use the same database."""
    ports: set[int] = set()
    for pid in pids:
        inodes = set()
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):  # closed since listed
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
            table = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
            table += Path(f"/proc/{pid}/net/tcp6").read_text().splitlines()[1:]
        except (FileNotFoundError, ProcessLookupError):
            continue
        for line in table:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    if not ports:
        return []
    import psycopg

    url = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s)", [sorted(ports)]
        ).fetchall()
    return [pid for (pid,) in rows]


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def memory_mb(pid: int, field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (the peak so far) of a process, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"{field}:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


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
        name = f"bench_view_{i // 100}:feature_{i}:1"
        rows.append((
            name, canonical_feature_name(name), family_name(name), version_key(1),
            types[i % 3], dtypes[i % 8],
            f"SELECT f{i} FROM t WHERE id = ?", f"Benchmark feature number {i}",
            "DEPLOYED" if deployed else "DRAFT", T0 + i, T0 + i, f"dev{i % 20}", 1,
        ))  # fmt: skip
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "INSERT INTO features (feature_name, canonical_name, family_name, version_key,"
            " feature_type, feature_data_type, query, description, status, created_time,"
            " updated_time, created_by, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute(
            "INSERT INTO feature_audit (feature_id, from_status, to_status, trigger, actor,"
            " timestamp) SELECT id, NULL, status, 'import', created_by, created_time"
            " FROM features"
        )
    store_feature_json_at(f"sqlite:///{db_path}")
    return [r[0] for r in rows]


def token_mode_env(issuer: OidcIssuer | None = None) -> dict[str, str]:
    """Token mode's settings, SECRET_KEY (required: the console's sessions) fresh per call;
    with ``issuer``, OIDC on: its JWTs for AUDIENCE, groups mapped to roles by ROLE_MAP."""
    env = {"AUTH_MODE": "token", "SECRET_KEY": secrets.token_urlsafe(32)}
    if issuer is not None:
        env.update(OIDC_ISSUER=issuer.url, OIDC_CLIENT_ID=AUDIENCE, OIDC_ROLE_MAP=ROLE_MAP)
    return env


def developer_jwt(issuer: OidcIssuer, valid_s: int = 3600) -> str:
    """A JWT from ``issuer`` for the principal "wrk" in group ml-developers (the developer
    role under ROLE_MAP), valid for ``valid_s`` seconds."""
    return issuer.token(
        preferred_username="wrk", groups=["ml-developers"], exp=issuer.now() + valid_s
    )


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py`` on a free loopback port, ready once it answers."""

    def __init__(
        self,
        app: str,
        env: dict[str, str],
        *,
        workers: int = 2,
        ready_path: str = "/health",
        log: Path | None = None,
        root: Path = ROOT,
    ) -> None:
        self.port = free_port()
        self._postgresql = env.get("DATABASE_URL", "").startswith("postgresql")
        self.url = f"http://127.0.0.1:{self.port}"
        # Production's log level: the access line is part of every request's cost.
        self._log = (log or Path(os.devnull)).open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers",
             str(workers), "--bind", f"127.0.0.1:{self.port}", app],
            cwd=root, stdout=self._log, stderr=self._log,
            env={**os.environ, "PYTHONPATH": str(root / "src"), **env},
        )  # fmt: skip
        self._wait_ready(ready_path, workers)

    def _wait_ready(self, path: str, workers: int) -> None:
        """Until ``path`` gets an answer (of any status) and every worker has started."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2):
                    answered = True
            except urllib.error.HTTPError:
                answered = True
            except OSError:
                answered = False
            if answered and len(self.workers()) == workers:
                time.sleep(0.5)  # let the other workers finish booting too
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gunicorn serving {path} did not become ready")

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def database_cpu_s(self) -> dict[int, float] | None:
        """CPU seconds used so far by each PostgreSQL backend the workers hold a connection
        to (``database_backends``); None for a server of another database (or none)."""
        if not self._postgresql:
            return None
        return {pid: process_cpu_s(pid) for pid in database_backends(self.workers())}

    def cpu_s(self) -> float:
        """CPU seconds used so far by the master and every worker."""
        return sum(process_cpu_s(pid) for pid in [self.process.pid, *self.workers()])

    def worker_memory_mb(self, field: str = "VmRSS") -> list[float]:
        return [memory_mb(pid, field) for pid in self.workers()]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@dataclass(frozen=True)
class LoadRun:
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    non_2xx: int
    cpu_ms_per_request: float
    # The PostgreSQL backends' CPU per request (a PostgreSQL server's runs): they share the
    # machine's cores with the workers, so a ratio by throughput pays for them too.
    database_cpu_ms_per_request: float | None = None


def load_run(
    server: Gunicorn, path: str, seconds: int, *, script: Path | None = None,
    connections: int = 16,
) -> LoadRun:  # fmt: skip
    """One ``wrk -t1 -cN`` run, with the server's CPU (master and workers) per request."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    if script is not None:
        args += ["-s", str(script)]
    database_before = server.database_cpu_s()
    cpu_before = server.cpu_s()
    out = subprocess.run(
        [*args, server.url + path], capture_output=True, text=True, check=True
    ).stdout
    cpu = server.cpu_s() - cpu_before
    requests = int(_search(r"(\d+) requests in", out))
    database_ms = None
    if database_before is not None:  # a backend started during the run: all of its CPU
        database_after = server.database_cpu_s() or {}
        used = sum(s - database_before.get(pid, 0.0) for pid, s in database_after.items())
        database_ms = used * 1000 / max(requests, 1)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return LoadRun(
        rps=float(_search(r"Requests/sec:\s+([\d.]+)", out)),
        requests=requests,
        p50_ms=_latency(out, "50%"),
        p99_ms=_latency(out, "99%"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        cpu_ms_per_request=cpu * 1000 / max(requests, 1),
        database_cpu_ms_per_request=database_ms,
    )


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


def _search(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{text}")
    return match.group(1)


def _latency(out: str, label: str) -> float:
    match = re.search(rf"\s{re.escape(label)}\s+([\d.]+)(us|ms|s)", out)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def spread(samples: Sequence[float]) -> str:
    """``median (min-max)`` of repeated measurements."""
    if len(samples) == 1:
        return f"{samples[0]:.2f}"
    return f"{statistics.median(samples):.2f} ({min(samples):.2f}-{max(samples):.2f})"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_memory_bench(
    description: str, measure: Callable[..., object], size: int, load_s: int, load_help: str
) -> None:
    """The command line of a bench measuring workers' memory (bench.memory,
    bench.refused_bodies): ``measure(backend, size, folder, pg_admin_url, root, load_s)``
    for each database asked for, in one scratch folder."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--size", type=int, default=size, help="features in the table")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--load", type=int, default=load_s, help=load_help)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fmg-memory-") as tmp:
        for backend in args.backends:
            measure(backend, args.size, Path(tmp), args.pg_admin_url, args.root, args.load)
