"""API tokens against real gunicorn processes (SPEC §7): two "hosts" of two workers each on
one database. Revocation and expiry are seen by every worker of every host on the next
request, and no log line of either (the app's, gunicorn's own, gunicorn's access log)
ever holds a token.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from feature_gateway.config import PROJECT_ROOT
from tests.conftest import TEST_SECRET_KEY, token_secret
from tests.databases import FreshDatabase, require_backend
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
BURST = 40


# The project's gunicorn.conf.py with gunicorn's access log switched on, on top of
# everything else at DEBUG: which worker (pid) answered which request (its X-Request-ID).
TEST_CONFIG = """\
import runpy
for _name, _value in runpy.run_path({config!r}).items():
    if not _name.startswith("__"):
        globals()[_name] = _value
accesslog = "-"
access_log_format = 'worker=%(p)s request=%({{x-request-id}}i)s %(s)s "%(r)s"'
logconfig_dict["loggers"]["gunicorn.access"]["level"] = "INFO"
logger_class = "gunicorn.glogging.Logger"  # the project's own one never writes access lines
"""


class Host:
    """One gunicorn -w 2 logging everything it can: DEBUG, and its own access log."""

    def __init__(self, url: str, log_path: Path) -> None:
        self.log_path = log_path
        config = log_path.with_suffix(".conf.py")
        config.write_text(TEST_CONFIG.format(config=str(PROJECT_ROOT / "gunicorn.conf.py")))
        self.server = LiveServer(
            url,
            workers=2,
            log_path=log_path,
            extra_env={
                "AUTH_MODE": "token",
                "SECRET_KEY": TEST_SECRET_KEY,
                "LOG_LEVEL": "DEBUG",
                "GUNICORN_CMD_ARGS": f"--config {config}",
            },
        )

    def call(
        self, method: str, path: str, token: str, body: Any = None, request_id: str = ""
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        if request_id:
            headers["X-Request-ID"] = request_id
        return self.server.request(method, path, body, headers)

    def workers_that_answered(self, request_ids: set[str]) -> set[str]:
        deadline = time.monotonic() + 5
        while True:
            found = re.findall(r"worker=<?(\d+)>? request=(\S+)", self.log_path.read_text())
            answered = {pid for pid, request_id in found if request_id in request_ids}
            logged = {request_id for _, request_id in found} & request_ids
            if logged == request_ids or time.monotonic() > deadline:
                return answered
            time.sleep(0.05)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hosts(request, tmp_path_factory) -> Iterator[tuple[str, list[Host]]]:
    require_backend(request.param)
    tmp = tmp_path_factory.mktemp(f"tokens-{request.param}")
    fresh = FreshDatabase(request.param, tmp, migrated=True)
    started = [Host(fresh.url, tmp / f"host-{i}.log") for i in range(2)]
    yield fresh.url, started
    for host in started:
        host.server.stop()
    fresh.drop()


def cli(url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(PROJECT_ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-c", "from feature_gateway.cli import main; main()", "tokens", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def burst(host: Host, token: str) -> list[tuple[int, Any]]:
    """Requests from 8 threads at once, until both workers of the host have answered some."""
    for _ in range(5):
        ids = [f"burst-{uuid.uuid4().hex}" for _ in range(BURST)]
        with ThreadPoolExecutor(8) as pool:
            results = list(
                pool.map(lambda i: host.call("GET", "/get_all_feature_metadata", token,
                                             request_id=i), ids)
            )  # fmt: skip
        if len(host.workers_that_answered(set(ids))) == 2:
            return results
    pytest.fail("the requests never reached both workers")


def test_a_token_from_the_cli_is_revoked_and_expires_on_every_worker_of_every_host(hosts):
    url, (first, second) = hosts
    admin = cli(url, "create", "--principal", "root", "--role", "admin").splitlines()[-1]
    status, issued = first.call(
        "POST", "/tokens", admin, {"principal": "dev", "roles": ["developer"]}
    )
    assert status == 201
    developer = issued["token"]
    for host in (first, second):
        assert {status for status, _ in burst(host, developer)} == {200}

    status, revoked = second.call("DELETE", f"/tokens/{issued['metadata']['token_id']}", admin)
    assert status == 200 and revoked["metadata"]["revoked_time"] is not None
    for host in (first, second):
        results = burst(host, developer)
        assert {status for status, _ in results} == {401}
        assert {body["detail"] for _, body in results} == {"The bearer token has been revoked."}

    expires = int(time.time() * 1000) + 2_000
    body = {"principal": "brief", "roles": ["approver"], "expires_time": expires}
    brief = first.call("POST", "/tokens", admin, body)[1]["token"]
    assert {status for status, _ in burst(second, brief)} == {200}
    time.sleep(max(0.0, expires / 1000 - time.time()) + 0.1)
    for host in (first, second):
        assert {body["detail"] for _, body in burst(host, brief)} == {
            "The bearer token has expired."
        }

    listed = cli(url, "list", "--json")
    assert token_secret(developer) not in listed and token_secret(admin) not in listed
    assert '"revoked_time": null' in listed


def test_no_log_line_of_either_host_holds_a_token(hosts):
    url, (first, second) = hosts
    admin = cli(url, "create", "--principal", "auditor", "--role", "admin").splitlines()[-1]
    issued = first.call("POST", "/tokens", admin, {"principal": "x", "roles": ["developer"]})
    tokens = [admin, issued[1]["token"]]
    second.call("GET", "/tokens", tokens[1])  # 403: not an admin
    second.call("GET", "/get_all_feature_metadata", admin[:-1] + "x")  # 401: not valid
    first.call("DELETE", f"/tokens/{issued[1]['metadata']['token_id']}", admin)
    second.call("GET", "/get_all_feature_metadata", tokens[1])  # 401: revoked
    time.sleep(0.5)  # workers write their log lines after answering
    logs = [host.log_path.read_text() for host in (first, second)]
    lines = [line for log in logs for line in log.splitlines()]
    assert any(re.search(r'"status": ?401\b', line) for line in lines)  # the app's own lines
    assert any("403" in line and "GET /tokens HTTP/1.1" in line for line in lines)  # gunicorn's
    for token in tokens:
        secret = token_secret(token)
        assert not [line for line in lines if secret in line or token in line]
