"""`make run` as a newcomer starts it, on a free port with a fresh SQLite file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from feature_gateway.config import PROJECT_ROOT
from tests.deploy.support import find_binary, free_port


@dataclass(frozen=True)
class MakeRun:
    port: int
    database_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def make_run(folder: Path, **env: str) -> Iterator[MakeRun]:
    """`make run` serving until the block ends (then make and its gunicorn are stopped)."""
    make = find_binary("make", required_in_ci=True)
    port, venv = free_port(), Path(sys.prefix)
    database_url = f"sqlite:///{folder / 'feature_gateway.db'}"
    environment = {**os.environ, "DATABASE_URL": database_url,
                   "PYTHONPATH": str(PROJECT_ROOT / "src")}  # fmt: skip
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    environment["WEB_CONCURRENCY"] = "2"  # the examples need no more; the machine is shared
    environment.update(env)
    # This interpreter's virtualenv stands in for .venv; -o: never reinstall it from here.
    command = [make, "--no-print-directory", "-o", f"{venv}/bin/activate", "run",
               f"PORT={port}", f"VENV={venv}", f"PYTHON={sys.executable}"]  # fmt: skip
    served = MakeRun(port, database_url, folder / "make-run.log")
    with served.log.open("wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        _wait_until_healthy(served, process)
        yield served
    finally:
        _stop_group(process)


def _wait_until_healthy(served: MakeRun, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # migrations and the import run first
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make run exited with {process.returncode}: {served.output()[-3000:]}")
        try:
            url = f"http://127.0.0.1:{served.port}/health"
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"make run did not serve /health within 120 s: {served.output()[-3000:]}")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to make and the gunicorn it started (one session), SIGKILL if they linger."""
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
