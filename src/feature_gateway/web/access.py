"""Who may call without a credential, and whose requests carry no JSON body: the app-wide
exemptions that authentication (``web.caller``) and the request hooks apply (SPEC §7).

- A view marked ``@public`` (health, liveness, metrics) answers without a token in token
  mode.
- So do the routes that serve the documentation or lead to it (``DOCUMENTATION_ENDPOINTS``),
  which are no operations of the API.
- The review console (SPEC §10) signs its users in itself, with its own signed session
  cookie, and takes HTML form posts: neither the bearer-token check nor the JSON-body
  check applies to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask

F = TypeVar("F", bound=Callable[..., Any])
CONSOLE_BLUEPRINT = "console"
# The front door at / (feature_gateway.front_door): links to the console and the docs.
FRONT_DOOR_ENDPOINT = "front-door.index"
# Routes that serve the documentation itself (or lead to it) rather than API operations:
# public in token mode, and not in the API document.
DOCUMENTATION_ENDPOINTS = frozenset(
    {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "docs-assets.asset",
     FRONT_DOOR_ENDPOINT}
)  # fmt: skip
_PUBLIC = "_access_public"


def public(view: F) -> F:
    """Answers without a token in token mode (health, liveness, metrics)."""
    setattr(view, _PUBLIC, True)
    return view


def is_console(endpoint: str | None) -> bool:
    """A page of the review console, which signs its users in itself."""
    return endpoint is not None and endpoint.partition(".")[0] == CONSOLE_BLUEPRINT


def is_public(app: Flask, endpoint: str | None) -> bool:
    if endpoint in DOCUMENTATION_ENDPOINTS or is_console(endpoint):
        return True
    return bool(getattr(app.view_functions.get(endpoint or ""), _PUBLIC, False))
