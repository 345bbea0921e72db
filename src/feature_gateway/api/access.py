"""How the API document says which operations need an API token (SPEC §7).

Which views need one is decided app-wide (``web.access``: all but the views marked
``@public`` and the documentation); the token management views are marked
``@token_mode_only`` here (in trust mode they only ever refuse). ``AccessDocPlugin`` reads
the same marks to write the document: in token mode a bearer security scheme, the 401
response on every protected operation and ``security: []`` on the public ones; in trust
mode no security at all, and the token operations with only the refusals trust mode gives.

``api.problems.Problems`` lists each operation's statuses as trust mode answers them; what
token mode adds to every protected operation (401, and 403 for a role the token does not
carry) is added here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from apispec import BasePlugin
from flask import Flask

from feature_gateway.domain.identity import IDENTITY_FIELDS
from feature_gateway.web.access import is_public

F = TypeVar("F", bound=Callable[..., Any])
BEARER_SCHEME = "bearerAuth"
SECURITY_SCHEMES = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "fmg_<token id>_<secret>",
        "description": "An API token (`feature-gateway tokens create`, or `POST /tokens`).",
    }
}
_REFUSED_IN_TRUST_MODE = "_access_refused_in_trust_mode"
# What a token operation can answer in trust mode: request errors, then the 403 naming the CLI.
_TRUST_MODE_TOKEN_STATUSES = frozenset({"400", "403", "413", "415", "422"})


# What the admin endpoints answer with: a token or webhook secret, or where one may be
# sent, is for the admin who asked; no shared cache may keep it.
NO_STORE = {"Cache-Control": "no-store"}
NO_STORE_DOC = {"Cache-Control": {"schema": {"type": "string", "enum": ["no-store"]}}}


def token_mode_only(view: F) -> F:
    """Works in token mode only; in trust mode it refuses (403) whatever the request."""
    setattr(view, _REFUSED_IN_TRUST_MODE, True)
    return view


def _is_token_mode_only(app: Flask, endpoint: str) -> bool:
    return bool(getattr(app.view_functions.get(endpoint), _REFUSED_IN_TRUST_MODE, False))


class AccessDocPlugin(BasePlugin):
    """apispec plugin writing each operation's security into the document."""

    def __init__(self, app: Flask, *, token_mode: bool) -> None:
        self.app, self.token_mode = app, token_mode

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        for operation in operations.values():
            if self.token_mode:
                self._document_token_mode(operation, rule.endpoint)
            elif _is_token_mode_only(self.app, rule.endpoint):
                responses = operation["responses"]
                for status in [s for s in responses if str(s) not in _TRUST_MODE_TOKEN_STATUSES]:
                    del responses[status]

    def _document_token_mode(self, operation: dict[str, Any], endpoint: str) -> None:
        if is_public(self.app, endpoint):
            operation["security"] = []
            return
        # 401 without a valid token; 403 wherever a role or an actor can be named, which
        # the token may not carry or may not be (reads included), and for a caller with no
        # role at all (single sign-on: groups that map to none), wherever one is needed.
        added = {401: "UNAUTHORIZED", 403: "FORBIDDEN"}
        responses = {**operation["responses"], **added}
        operation["responses"] = dict(sorted(responses.items(), key=lambda item: str(item[0])))
        # The token says who acts: the examples leave the role and the actor names out.
        for media in operation.get("requestBody", {}).get("content", {}).values():
            if isinstance(media.get("example"), dict):
                example = media["example"]
                media["example"] = {k: v for k, v in example.items() if k not in IDENTITY_FIELDS}
