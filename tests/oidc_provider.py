"""A real OpenID provider on loopback for the single sign-on tests (SPEC §12): the PyPI
package oidc-provider-mock (discovery, JWKS, a login form where the subject is typed, token
and end-session endpoints), run as `make oidc-provider` runs it: its own process, so that
pytest's ``filterwarnings = error`` does not turn authlib's deprecation warnings inside it
into 500s. The service talks to it over real HTTP, as to the company's provider.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from tests.live_server import free_port

CLIENT_ID = "feature-gateway"
CLIENT_SECRET = "test-only-client-secret"
ROLE_MAP = "ml-developers=developer,ml-approvers=approver,qa-bots=external_testing_system"


class OidcProvider:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        # The issuer is what the provider is reached as: 127.0.0.1, which the browser tests'
        # Chromium resolves (it resolves no other name).
        self.issuer = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_until_up(log_path)

    def _wait_until_up(self, log_path: Path, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider-mock exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.configuration_url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("oidc-provider-mock did not answer in time")

    @property
    def configuration_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def set_user(self, sub: str, **claims: object) -> None:
        """The claims the provider puts in ``sub``'s ID token (preferred_username, groups)."""
        response = httpx.put(f"{self.issuer}/users/{quote(sub, safe='')}", json=claims)
        assert response.status_code == 204, response.text

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self._log.close()
