"""A test OpenID Connect issuer: discovery and JWKS over real HTTP on loopback, and the JWTs
it signs with the claims a test chooses (SPEC §12).

    issuer = OidcIssuer()                        # serving at issuer.url, one RSA key
    jwt = issuer.token(preferred_username="alice", groups=["ml-developers"])
    jwt = issuer.token(exp=issuer.now() - 120)   # any claim overridden; None leaves it out
    issuer.rotate()                              # a new key (new kid) replaces the old one
    issuer.stop(); issuer.start()                # down (connection refused), up again
    issuer.jwks_fetches                          # how often the key set was fetched

The conftest's ``oidc_issuer`` fixture makes one per test and stops it afterwards; the
``oidc_app`` fixture binds the token-mode app with OIDC on to it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey

AUDIENCE = "feature-gateway"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"
# The role map the OIDC test app runs with (OIDC_ROLE_MAP).
ROLE_MAP = (
    "ml-developers=developer,ml-approvers=approver,qa-bots=external_testing_system,"
    "platform-admins=admin"
)


def unsigned(claims: Mapping[str, Any], header: Mapping[str, Any] | None = None) -> str:
    """A JWT with ``alg: none`` and no signature, as an attacker would send it."""

    def part(value: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header or {'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


class OidcIssuer:
    """An issuer serving discovery and its key set on 127.0.0.1; see the module docstring."""

    def __init__(self, *, audience: str = AUDIENCE, key_type: str = "RSA") -> None:
        self.audience = audience
        self.key_type = key_type
        self.keys: list[Key] = [self._new_key()]  # the first signs; all are published
        self.jwks_fetches = 0
        self.discovery_fetches = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self.start()

    # -- the server ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        """Serve (again, on the same port after ``stop``)."""
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler(self))
        server.daemon_threads = True
        self._server, self._port = server, server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving: connections to ``url`` are refused until ``start``."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}{JWKS_PATH}",
            "end_session_endpoint": f"{self.url}/logout",
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self.keys]}

    # -- keys and tokens -----------------------------------------------------------------

    @property
    def key(self) -> Key:
        """The key tokens are signed with."""
        return self.keys[0]

    @property
    def kid(self) -> str:
        return str(self.key.kid)

    def rotate(self, *, keep_old: bool = False) -> str:
        """A new signing key with a new kid; the old one stays published only if
        ``keep_old``. Returns the new kid."""
        self.keys = [self._new_key(), *(self.keys if keep_old else [])]
        return self.kid

    def now(self) -> int:
        return int(time.time())

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """The claims ``token`` signs: an access token for ``audience`` valid for 5 minutes,
        for alice; each override replaces a claim, None leaves it out."""
        now = self.now()
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": self.audience,
            "sub": "user-0001",
            "preferred_username": "alice",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self,
        *,
        key: Key | None = None,
        alg: str | None = None,
        header: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A JWT signed with ``key`` (default: the issuer's), its kid in the header.
        ``groups=[...]`` sets the groups claim; any claim may be overridden."""
        signing = key or self.key
        alg = alg or ("ES256" if signing.key_type == "EC" else "RS256")
        protected: dict[str, Any] = {"alg": alg, "typ": "JWT"}
        if signing.kid is not None:
            protected["kid"] = signing.kid
        protected.update(header or {})
        protected = {name: value for name, value in protected.items() if value is not None}
        return jwt.encode(protected, self.claims(**claims), signing, algorithms=[alg])

    def _new_key(self) -> Key:
        key: Key
        if self.key_type == "EC":
            key = ECKey.generate_key("P-256", auto_kid=True)
        else:
            key = RSAKey.generate_key(2048, auto_kid=True)
        return key


def _handler(issuer: OidcIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == DISCOVERY_PATH:
                issuer.discovery_fetches += 1
                self._json(issuer.discovery())
            elif self.path == JWKS_PATH:
                issuer.jwks_fetches += 1
                self._json(issuer.jwks())
            else:
                self.send_error(404)

        def _json(self, document: Mapping[str, Any]) -> None:
            body = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

    return Handler
