"""Console sign-out against real gunicorn processes (SPEC §10): two "hosts" on one database
with one SECRET_KEY. A session started on one host works on the other; signing out on one
ends it on both, so a copy of the cookie taken before sign-out is refused everywhere."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.console.support import csrf_token
from tests.databases import BACKENDS, FreshDatabase, require_backend
from tests.deploy.support import Reply, call
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
COOKIE = "fmg_console"


@pytest.fixture(params=BACKENDS)
def hosts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[LiveServer]]:
    require_backend(request.param)
    fresh = FreshDatabase(request.param, tmp_path, migrated=True)
    started: list[LiveServer] = []
    try:
        for name in ("a", "b"):
            started.append(LiveServer(fresh.url, workers=2, log_path=tmp_path / f"{name}.log",
                                      extra_env={"SECRET_KEY": TEST_SECRET_KEY}))  # fmt: skip
        yield started
    finally:
        for host in started:
            host.stop()
        fresh.drop()


def _get(host: LiveServer, path: str, cookie: str) -> Reply:
    return call(host.port, "GET", path, headers={"Cookie": f"{COOKIE}={cookie}"})


def _post_form(host: LiveServer, path: str, cookie: str, form: dict[str, str]) -> Reply:
    headers = {"Cookie": f"{COOKIE}={cookie}",
               "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    return call(host.port, "POST", path, headers=headers,
                raw_body=urllib.parse.urlencode(form).encode())  # fmt: skip


def _cookie_set_by(reply: Reply) -> str:
    found = re.search(rf"{COOKIE}=([^;]*)", reply.headers.get("Set-Cookie", ""))
    assert found, reply.headers
    return found.group(1)


def _sign_in(host: LiveServer) -> str:
    first = call(host.port, "GET", "/console/sign-in")
    cookie = _cookie_set_by(first)
    form = {"csrf_token": csrf_token(first.body.decode()), "role": "approver", "name": "carol",
            "next": ""}  # fmt: skip
    signed_in = _post_form(host, "/console/sign-in", cookie, form)
    assert signed_in.status == 302, signed_in.body[:2000]
    return _cookie_set_by(signed_in)


def test_signing_out_on_one_host_ends_the_session_on_the_other(
    hosts: list[LiveServer],
) -> None:
    a, b = hosts
    cookie = _sign_in(a)
    queue = _get(a, "/console/queue", cookie)
    assert queue.status == 200
    cookie = _cookie_set_by(queue)  # the page's form added its CSRF token to the session
    copy = cookie  # taken before sign-out, as someone who got hold of it would
    assert _get(b, "/console/queue", copy).status == 200  # one session for both hosts
    signed_out = _post_form(a, "/console/sign-out", cookie,
                            {"csrf_token": csrf_token(queue.body.decode())})  # fmt: skip
    assert signed_out.status == 302
    for host in (b, a, b, a):  # any host, any worker
        refused = _get(host, "/console/queue", copy)
        assert refused.status == 302
        assert refused.headers["Location"].startswith("/console/sign-in")
