"""What the README promises of `make run` on a busy port, and of `make reset`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from feature_gateway.config import PROJECT_ROOT
from tests.deploy.support import find_binary


def test_make_run_on_a_busy_port_stops_at_once_and_names_the_way_out(tmp_path: Path) -> None:
    make = find_binary("make", required_in_ci=True)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'untouched.db'}"}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        started = time.monotonic()
        ran = subprocess.run([make, "run", f"PORT={port}"], cwd=PROJECT_ROOT, env=env,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        elapsed = time.monotonic() - started
    assert ran.returncode != 0
    assert f"Port {port} is already in use" in ran.stderr
    assert f"make run PORT={port + 1}" in ran.stderr
    assert elapsed < 5  # before the virtualenv, the migrations and gunicorn's 5 s of retries
    assert not (tmp_path / "untouched.db").exists()


def test_make_reset_removes_the_local_database_and_keeps_the_virtualenv(tmp_path: Path) -> None:
    make = find_binary("make", required_in_ci=True)
    checkout = tmp_path / "checkout"
    (checkout / "data").mkdir(parents=True)
    (checkout / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "Makefile", checkout / "Makefile")
    kept = [checkout / "data" / "feature_metadata.json", checkout / ".venv" / "bin" / "python"]
    removed = [
        checkout / "data" / f"feature_gateway.db{suffix}" for suffix in ("", "-wal", "-shm")
    ]
    for path in kept + removed:
        path.write_text("x")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    ran = subprocess.run([make, "reset"], cwd=checkout, env=env, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert [path.exists() for path in removed] == [False] * len(removed)
    assert [path.exists() for path in kept] == [True] * len(kept)
    assert ran.stderr == ""  # the default database: nothing left behind to warn about
