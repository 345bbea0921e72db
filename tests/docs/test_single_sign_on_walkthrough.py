"""docs/identity.md's "The console's single sign-on" walkthrough, as a fresh clone follows it:
`make oidc-provider` in one terminal, `make run` with the OIDC settings shown in another, and
a sign-in at the provider that lands in the console with the role of the groups."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from feature_gateway.config import PROJECT_ROOT
from tests.deploy.support import find_binary, free_port
from tests.docs.make_run import make_run

GUIDE = PROJECT_ROOT / "docs" / "identity.md"
SECTION = "### The console's single sign-on"


def _blocks() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    following = re.search(r"\n#{1,3} ", section[len(SECTION) :])
    if following:
        section = section[: len(SECTION) + following.start()]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


@contextmanager
def _make_oidc_provider(folder: Path, port: int) -> Iterator[str]:
    make, venv = find_binary("make", required_in_ci=True), Path(sys.prefix)
    command = [make, "--no-print-directory", "-o", f"{venv}/bin/activate", "oidc-provider",
               f"OIDC_PORT={port}", f"VENV={venv}", f"PYTHON={sys.executable}"]  # fmt: skip
    log = folder / "oidc-provider.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    issuer = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()[-2000:]
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.2)
        yield issuer
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def test_the_walkthrough_signs_alice_in_at_make_oidc_provider_as_an_approver(
    tmp_path: Path,
) -> None:
    provider_block, service_block = _blocks()
    assert provider_block.split("#")[0].split() == ["make", "oidc-provider"]
    words = shlex.split(service_block.replace("\\\n", " "))
    assert words[-2:] == ["make", "run"]
    env = dict(word.split("=", 1) for word in words[:-2])
    assert env["OIDC_ISSUER"] == "http://localhost:9400"
    port = free_port()
    env["OIDC_ISSUER"] = f"http://localhost:{port}"  # where this test's provider listens

    with (
        _make_oidc_provider(tmp_path, port),
        make_run(tmp_path, **env) as served,
        httpx.Client(base_url=f"http://127.0.0.1:{served.port}") as browser,
    ):
        sign_in = browser.get("/console/sign-in").text
        assert "Sign in with single sign-on" in sign_in
        to_provider = browser.get("/console/oidc/sign-in").headers["Location"]
        assert to_provider.startswith(f"http://localhost:{port}/oauth2/authorize?")
        form = httpx.get(to_provider).text
        assert 'value="alice"' in form and 'value="dev"' in form  # one click each
        back = httpx.post(to_provider, data={"sub": "alice"}).headers["Location"]
        queue = browser.get(back, follow_redirects=True)
    assert queue.url.path == "/console/queue"
    assert "Signed in as alice (approver)." in queue.text
