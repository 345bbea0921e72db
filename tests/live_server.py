"""A real gunicorn serving the app on loopback, for tests that need real processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from feature_gateway.config import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(
        self,
        database_url: str,
        workers: int,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()  # a given port: a restart where clients still point
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            # This checkout's code, even where another copy of the package is installed.
            "PYTHONPATH": str(PROJECT_ROOT / "src"),
            **(extra_env or {}),
        }
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
             f"127.0.0.1:{self.port}", "--graceful-timeout", "5", "wsgi:app"],
            cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_until_healthy(log_path)

    def _wait_until_healthy(self, log_path: Path, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {log_path.read_text()[-2000:]}")
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not become healthy in time")

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        status, body_bytes = self.raw_request(method, path, body, headers)
        return status, json.loads(body_bytes)

    def raw_request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        sent = {**({"Content-Type": "application/json"} if data else {}), **(headers or {})}
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:  # it holds the connection: closed here, not whenever GC runs
                return error.code, error.read()

    def kill(self) -> None:
        """SIGKILL to the master and its workers at once: a crash, no graceful shutdown."""
        master = self.process.pid
        workers = [int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat")
                   if _stat_field(stat, 1) == str(master)]  # fmt: skip
        for pid in [master, *workers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        for pid in workers:  # gone, or a zombie that holds no socket
            while _stat_field(Path(f"/proc/{pid}/stat"), 0) not in (None, "Z"):
                time.sleep(0.05)
        self._log.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self._log.close()


def _stat_field(stat: Path, index: int) -> str | None:
    """A field of /proc/<pid>/stat after the command name (0: state, 1: parent pid)."""
    try:
        return stat.read_text().rpartition(")")[2].split()[index]
    except (OSError, IndexError):
        return None
