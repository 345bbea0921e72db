"""What the README promises of `make run` (on a busy port, in token mode, where to go) and
of `make reset`."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from feature_gateway.config import PROJECT_ROOT
from tests.conftest import TEST_SECRET_KEY
from tests.deploy.support import find_binary
from tests.docs.make_run import make_run

README = PROJECT_ROOT / "README.md"


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


def _readme_token_recipe() -> tuple[str, str]:
    """The README's two lines for token mode: how it starts `make run`, how it gets a token."""
    text = README.read_text(encoding="utf-8")
    [block] = re.findall(r"```bash\n(AUTH_MODE=token.*?)```", text, flags=re.S)
    serve, mint = block.split("\n", 1)
    return serve, mint


@pytest.mark.slow
@pytest.mark.parametrize("secret_key", ["", TEST_SECRET_KEY], ids=["no key", "a key"])
def test_the_readmes_token_recipe_works_as_written_and_make_run_says_where_to_go(
    tmp_path: Path, secret_key: str
) -> None:
    serve, mint = _readme_token_recipe()
    assert serve.split("#")[0].split() == ["AUTH_MODE=token", "make", "run"]
    with make_run(tmp_path, AUTH_MODE="token", SECRET_KEY=secret_key) as served:
        url = f"http://127.0.0.1:{served.port}"
        with urllib.request.urlopen(f"{url}/health", timeout=10) as reply:
            assert json.load(reply)["auth"] == "token"
        # The second terminal, as written: the token from the CLI, the testing system with it.
        minting = mint.split("| tail -n 1)")[0].removeprefix("TESTING_SYSTEM_TOKEN=$(")
        minting = minting.replace(".venv/bin/", f"{sys.prefix}/bin/")
        env = {**os.environ, "DATABASE_URL": served.database_url}
        env.pop("SECRET_KEY", None)
        minted = subprocess.run(["bash", "-c", minting], cwd=PROJECT_ROOT, env=env,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.splitlines()[-1]
        tested = subprocess.run(
            [sys.executable, "examples/testing_system.py", "--url", url, "--once"],
            cwd=PROJECT_ROOT, env={**env, "TESTING_SYSTEM_TOKEN": token},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert tested.returncode == 0, tested.stderr
    output = served.output()
    for where in ("console/", "docs", "health"):
        assert f"http://localhost:{served.port}/{where}" in output
    assert ("a key of this run" in output) == (not secret_key)
    assert "Traceback" not in output
