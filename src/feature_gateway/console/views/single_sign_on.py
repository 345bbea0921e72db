"""Signing in at the company's OpenID provider (SPEC §12, the console), when OIDC is on.

"Sign in with single sign-on" is a plain link to ``oidc_sign_in``, a GET that sends the
browser on to the provider: a form POST answered by a redirect to another origin would be
held to the page's CSP ``form-action 'self'`` (Chromium applies it to the redirect) and
silently go nowhere. The provider sends the browser back to ``oidc_callback``; every way
that can fail ends on the sign-in page with the reason, and nobody signed in.
"""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from feature_gateway.console import identity
from feature_gateway.console.blueprint import blueprint
from feature_gateway.errors import SingleSignOnError
from feature_gateway.services import single_sign_on
from feature_gateway.services.clock import now_ms
from feature_gateway.services.identity_provider import IdentityProvider
from feature_gateway.web.context import database, identity_provider, settings


@blueprint.get("/oidc/sign-in")
def oidc_sign_in() -> Response:
    try:
        started = single_sign_on.begin_sign_in(
            database(),
            _provider(),
            client_id=settings().oidc_client_id,
            redirect_uri=callback_url(),
            return_to=identity.safe_next(request.args.get("next")),
            now=now_ms(),
        )
    except SingleSignOnError as refused:
        return _not_signed_in(refused)
    identity.remember_sign_in_state(started.state)
    return redirect(started.url)


@blueprint.get("/oidc/callback")
def oidc_callback() -> Response:
    config = settings()
    try:
        signed_in = single_sign_on.finish_sign_in(
            database(),
            _provider(),
            params=request.args.to_dict(),
            browser_state=identity.take_sign_in_state(),
            client_id=config.oidc_client_id,
            client_secret=config.oidc_client_secret,
            redirect_uri=callback_url(),
            now=now_ms(),
        )
    except SingleSignOnError as refused:
        return _not_signed_in(refused)
    user = identity.sign_in_at_provider(signed_in)
    roles = ", ".join(role.value for role in user.roles) or "no role: ask for a group that has one"
    flash(f"Signed in as {user.name} ({roles}).", "ok")
    return redirect(signed_in.return_to)


def _provider() -> IdentityProvider:
    """The provider to sign in at; 404 when single sign-on is off."""
    provider = identity_provider()
    if provider is None:
        abort(404)
    return provider


def _not_signed_in(refused: SingleSignOnError) -> Response:
    """Back to the sign-in page, saying why (nobody is signed in)."""
    flash(f"Not signed in: {refused.detail}", "error")
    return redirect(url_for("console.sign_in"))


def external_url(endpoint: str) -> str:
    """A console address as the browser reaches it: under PUBLIC_BASE_URL when set, else as
    this request came (its scheme from the trusted proxies, TRUSTED_PROXY_COUNT)."""
    base = settings().public_base_url
    if base:
        return base.rstrip("/") + url_for(endpoint)
    return url_for(endpoint, _external=True)


def callback_url() -> str:
    """The redirect URI registered at the provider: ``<base>/console/oidc/callback``."""
    return external_url("console.oidc_callback")
