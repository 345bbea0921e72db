"""Headless Chromium opens /docs on a running service and Swagger UI renders every operation.

Run with ``pytest -m browser tests/browser`` (``make test-browser``); deselected by default.
Needs Chromium (Debian: ``apt-get install chromium``) and skips without it. External hosts
are made unresolvable for the browser, so the page passes only if the service itself serves
everything it needs. The screenshot is kept as artifacts/swagger-ui.png.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from feature_gateway import create_app
from tests.conftest import TEST_SECRET_KEY, migrate
from tests.databases import close_app

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 90


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")


class RequestLog:
    """WSGI middleware remembering the paths the browser asked for."""

    def __init__(self, app: Any) -> None:
        self.app, self.paths = app, []

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        self.paths.append(environ["PATH_INFO"])
        return self.app(environ, start_response)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Flask, RequestLog]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'docs.db'}"
    migrate(url)
    app = create_app({"database_url": url, "log_level": "WARNING"})
    log = RequestLog(app.wsgi_app)
    app.wsgi_app = log  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app, log
    server.shutdown()
    thread.join(timeout=10)
    close_app(app)


def run_chromium(chromium: str, profile: Path, *args: str) -> str:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        # Only the service is reachable: a page that fetched anything remote would break.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--virtual-time-budget=20000",
        *args,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_swagger_ui_renders_every_operation_offline(
    chromium: str, served: tuple[str, Flask, RequestLog], tmp_path: Path
) -> None:
    base_url, app, log = served
    document = app.test_client().get("/openapi.json").get_json()

    dom = run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", f"{base_url}/docs")

    assert "Failed to load API definition" not in dom
    assert "Unable to render this definition" not in dom
    assert document["info"]["title"] in dom
    for path, item in document["paths"].items():
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                block = f'id="operations-{operation["tags"][0]}-{operation["operationId"]}"'
                assert block in dom, f"Swagger UI did not render {path} ({block})"
    assert "/openapi.json" in log.paths
    assert "/docs/static/swagger-ui-bundle.js" in log.paths


def test_a_screenshot_of_the_docs_page_is_kept(
    chromium: str, served: tuple[str, Flask, RequestLog], tmp_path: Path
) -> None:
    base_url, _, _ = served
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "swagger-ui.png"
    screenshot.unlink(missing_ok=True)
    run_chromium(
        chromium,
        tmp_path / "profile-shot",
        f"--screenshot={screenshot}",
        "--window-size=1280,2200",
        "--hide-scrollbars",
        f"{base_url}/docs",
    )
    assert screenshot.stat().st_size > 20_000  # a blank page is a few kB


@pytest.fixture(scope="module")
def served_in_token_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Flask]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser-token') / 'docs.db'}"
    migrate(url)
    app = create_app(
        {"database_url": url, "log_level": "WARNING", "auth_mode": "token",
         "secret_key": TEST_SECRET_KEY}
    )  # fmt: skip
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join(timeout=10)
    close_app(app)


def test_in_token_mode_swagger_ui_offers_authorize_and_marks_protected_operations(
    chromium: str, served_in_token_mode: tuple[str, Flask], tmp_path: Path
) -> None:
    from feature_gateway.services import tokens

    base_url, app = served_in_token_mode
    dom = run_chromium(chromium, tmp_path / "profile-token", "--dump-dom", f"{base_url}/docs")
    assert "Failed to load API definition" not in dom
    assert 'class="btn authorize' in dom  # the Authorize button of the bearer scheme
    assert dom.count("authorization__btn") >= 20  # a lock on every protected operation
    # What Authorize makes Swagger UI send, against the same running service.
    database = app.extensions["feature_gateway"].database
    token = tokens.create_token(database, principal="ui", roles=["admin"], created_by="t").token
    request = urllib.request.Request(
        f"{base_url}/tokens", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base_url}/tokens", timeout=10)
    refused.value.close()
    assert refused.value.code == 401
