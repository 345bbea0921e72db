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


def test_make_reset_with_a_postgresql_url_deletes_nothing_and_says_so(tmp_path: Path) -> None:
    make = find_binary("make", required_in_ci=True)
    checkout = tmp_path / "checkout"
    (checkout / "data").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "Makefile", checkout / "Makefile")
    local = checkout / "data" / "feature_gateway.db"
    local.write_text("x")
    env = {**os.environ, "DATABASE_URL": "postgresql://gateway:pw@db.internal:5432/features"}
    ran = subprocess.run([make, "reset"], cwd=checkout, env=env, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert local.exists()  # not the database DATABASE_URL names: left alone
    assert "nothing was deleted, that database was left as it is" in ran.stderr
    assert "pw" not in ran.stdout + ran.stderr


# Stands in for python3 in a copy of the Makefile: `-m venv DIR` makes a venv whose pip takes
# a second and refuses to run beside another pip of that venv (as two real ones would break
# each other); anything else (the Makefile's lock) is run by the real interpreter.
FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin"
    cat > "$3/bin/pip" <<'PIP'
#!/bin/sh
venv=$(dirname "$(dirname "$0")")
mkdir "$venv/pip-running" 2>/dev/null || { echo "two installs at once" >&2; exit 1; }
echo "pip $*" >> "$venv/pip.log"
sleep 1
rmdir "$venv/pip-running"
PIP
    chmod +x "$3/bin/pip"
    touch "$3/bin/activate"
    exit 0
fi
exec PYTHON "$@"
"""


def test_two_make_installs_at_once_on_a_fresh_clone_both_succeed_and_install_once(
    tmp_path: Path,
) -> None:
    make = find_binary("make", required_in_ci=True)
    for name in ("Makefile", "setup.cfg", "pyproject.toml", "clients/python/pyproject.toml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON.replace("PYTHON", sys.executable))
    fake.chmod(0o755)
    command = [make, "--no-print-directory", "install", f"PYTHON={fake}"]
    both = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(2)]  # fmt: skip
    outputs = [process.communicate(timeout=60)[0] for process in both]
    assert [process.returncode for process in both] == [0, 0], outputs
    log = (tmp_path / ".venv" / "pip.log").read_text().splitlines()
    assert log == [
        "pip install --quiet --upgrade pip",
        "pip install --quiet -e .[test]",
        "pip install --quiet -e ./clients/python",
    ]
    assert sum("is installed (by another make meanwhile)" in out for out in outputs) == 1


def test_a_run_that_fuzzes_says_first_where_its_time_goes_and_how_to_skip_it() -> None:
    def header(*args: str) -> str:
        ran = subprocess.run(
            [sys.executable, "-m", "pytest", "--co", "-n", "0", "-p", "no:randomly", *args,
             "tests/contract/test_fuzzing.py"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return ran.stdout.split("collected", 1)[0]

    said = header()
    assert "fuzzing: the Schemathesis runs (marker fuzz" in said
    assert "the whole suite takes about 6-12 min on 2 cores" in said
    assert "(make test-fast) leaves them out" in said
    assert "Schemathesis runs" not in header("-m", "not fuzz")
