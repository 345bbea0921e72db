"""The README's and the API guide's examples answer as the pages show, on a fresh `make run`.

The service is started by `make run` itself (fresh SQLite file, migrations, the sample data,
gunicorn with gunicorn.conf.py) on a free port; then every example request of README.md and
docs/api-guide.md, in that order, is run by bash with the real curl, `localhost:8000`
pointed at that port, and its response compared with the block shown under it (the
convention: tests/docs/markdown_examples.py, docs/development.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from feature_gateway.config import PROJECT_ROOT
from tests.deploy.support import find_binary, free_port
from tests.docs.markdown_examples import (
    Example,
    examples_in,
    parse_curl_output,
    response_mismatches,
)

pytestmark = pytest.mark.slow

PAGES = ("README.md", "docs/api-guide.md")  # run in this order, on one service
DOCUMENTED_ORIGIN = "localhost:8000"


def _documented_examples() -> list[Example]:
    return [
        example for page in PAGES for example in examples_in(PROJECT_ROOT / page, PROJECT_ROOT)
    ]


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`make run` on a free port with a fresh SQLite file; yields the port."""
    make = find_binary("make", required_in_ci=True)
    find_binary("curl", required_in_ci=True)  # before starting anything the test cannot use
    folder = tmp_path_factory.mktemp("make-run")
    port, venv = free_port(), Path(sys.prefix)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder / 'feature_gateway.db'}",
           "PYTHONPATH": str(PROJECT_ROOT / "src")}  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["WEB_CONCURRENCY"] = "2"  # the examples need no more; the machine is shared
    # This interpreter's virtualenv stands in for .venv; -o: never reinstall it from here.
    command = [make, "--no-print-directory", "-o", f"{venv}/bin/activate", "run",
               f"PORT={port}", f"VENV={venv}", f"PYTHON={sys.executable}"]  # fmt: skip
    with (folder / "make-run.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        _wait_until_healthy(port, process, folder / "make-run.log")
        yield port
    finally:
        _stop_group(process)


def _wait_until_healthy(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120  # migrations and the import run first
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make run exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"make run did not serve /health within 120 s: {log.read_text()[-3000:]}")


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


def test_the_pages_hold_examples_and_every_request_shows_its_response() -> None:
    examples = _documented_examples()  # raises ConventionError naming the file and line
    pages = {example.where.split(":")[0] for example in examples}
    assert pages == set(PAGES)


def test_every_example_answers_as_the_readme_and_the_api_guide_show(
    make_run: int, tmp_path: Path
) -> None:
    bash = find_binary("bash")
    for example in _documented_examples():
        command = example.command.replace(DOCUMENTED_ORIGIN, f"localhost:{make_run}")
        ran = subprocess.run([bash, "-o", "pipefail", "-c", command], cwd=tmp_path,
                             capture_output=True, timeout=60)  # fmt: skip
        output = ran.stdout.decode("utf-8", "replace")
        assert ran.returncode == 0, f"{example.where}: exit {ran.returncode}: {ran.stderr!r}"
        found = response_mismatches(example.expected, parse_curl_output(output))
        assert not found, f"{example.where}:\n{example.command}\n" + "\n".join(
            [*found, "the service answered:", output[:4000]]
        )
