"""Who is calling, and the role they act in: one answer for both front doors (SPEC §7).

Each door learns who calls in its own way and says so here; both then ask here.

- The API, in token mode, from the request's bearer token: ``authenticate_request`` runs
  before anything looks at the request (public views excepted, ``web.access``) and answers
  401 without a valid one. A bearer value starting ``fmg_`` is an API token (one indexed
  lookup, whether or not the provider is up); with single sign-on on (SPEC §12) any other
  is a JWT the provider must have signed (``services.identity_provider``; 503 while its
  key cannot be fetched). In trust mode an API request has no principal: it names its role
  and its actors in its own fields.
- The console, from its signed session (``console.identity``): the person signed in,
  verified by their API token or by the company's OpenID provider (single sign-on), or in
  trust mode as claimed (``identify``).

``principal()`` is who acts; ``role_for(action)`` is the role they act in when the request
names none (``Principal.role_for``: the first of their roles that may).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from feature_gateway.domain.identity import Principal
from feature_gateway.domain.lifecycle import Action, Role
from feature_gateway.domain.tokens import TOKEN_PREFIX
from feature_gateway.errors import AuthenticationError
from feature_gateway.services import tokens
from feature_gateway.services.clock import now_ms
from feature_gateway.web.access import is_public
from feature_gateway.web.context import database, identity_provider, settings


def authenticate_request() -> None:
    """Token mode: 401 unless the request carries a valid bearer token (public views and
    unknown paths excepted). Runs before the body is looked at: 401 comes before 400/415."""
    identify(None)
    if (
        not settings().token_mode
        or request.url_rule is None
        or is_public(current_app, request.endpoint)
    ):
        return
    credentials = request.authorization
    provider = identity_provider()
    if credentials is None or credentials.type != "bearer":
        raise AuthenticationError(
            (
                "An API token is required: send it as 'Authorization: Bearer <token>'."
                if provider is None
                else "An API token or a JWT from the identity provider is required: send it as "
                "'Authorization: Bearer <token>'."
            ),
            token_sent=False,
        )
    token = credentials.token
    if provider is None or token is None or token.startswith(TOKEN_PREFIX):
        identify(tokens.authenticate(database(), token, now_ms()))
        return
    claims = provider.verify(token, audience=settings().oidc_api_audience)
    identify(provider.principal_of(claims))


def no_caller_yet(context: Any) -> None:
    """``identify(None)`` on ``context``, the request's ``g`` already looked up: what
    ``authenticate_request`` does first, and all it does in trust mode."""
    context.principal = None


def identify(caller: Principal | None) -> None:
    """Who this request's caller is, as its front door learned it (the access log names
    them too)."""
    g.principal = caller


def principal() -> Principal | None:
    """Who acts in this request: a verified principal, the console's claimed person (trust
    mode), or None (an API request in trust mode)."""
    return principal_of(g._get_current_object())  # not through the proxy (web.context)


def principal_of(context: Any) -> Principal | None:
    """``principal()`` of ``context``, the request's ``g`` already looked up (read from its
    ``__dict__``, as its own ``get`` reads it, without that call: asked on most requests)."""
    return context.__dict__.get("principal")  # type: ignore[no-any-return]


def role_for(action: Action) -> Role | None:
    """The role the caller acts in for ``action`` when the request names none: the first of
    theirs that may; None without a principal or when none of their roles may."""
    caller = principal()
    return None if caller is None else caller.role_for(action)
