"""`curl localhost:8000/openapi.json` on the service as deployed (gunicorn) is valid OpenAPI 3."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from tests.databases import migrated_sqlite

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def gunicorn_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database_url = migrated_sqlite(tmp_path_factory.mktemp("served") / "served.db")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start: {server.stderr.read()!r}")  # type: ignore[union-attr]
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)
        server.stderr.close()  # type: ignore[union-attr]


@pytest.mark.slow
def test_the_document_fetched_from_the_running_service_is_valid_openapi_3(
    gunicorn_url: str,
) -> None:
    with urllib.request.urlopen(f"{gunicorn_url}/openapi.json", timeout=10) as response:
        assert response.status == 200
        assert response.headers.get_content_type() == "application/json"
        document = json.load(response)
    validate(document)
    assert document["openapi"].startswith("3.")


@pytest.mark.slow
def test_the_running_service_serves_swagger_ui_and_its_assets(gunicorn_url: str) -> None:
    with urllib.request.urlopen(f"{gunicorn_url}/docs", timeout=10) as page:
        html = page.read().decode()
    assert "/docs/static/swagger-ui-bundle.js" in html
    with urllib.request.urlopen(
        f"{gunicorn_url}/docs/static/swagger-ui-bundle.js", timeout=10
    ) as asset:
        assert asset.status == 200
        assert len(asset.read()) > 100_000
