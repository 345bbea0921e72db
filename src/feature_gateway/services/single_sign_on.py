"""The console's single sign-on (SPEC §12): the authorization code flow with PKCE at the
company's OpenID provider, and its sign-out there.

``begin_sign_in`` keeps a pending sign-in on the server (``db.oidc_logins``: the ``state``,
the nonce, the PKCE code verifier) and says where to send the browser; ``finish_sign_in``
takes it back by the ``state`` the provider returns (once: the row is deleted), exchanges the
code at the token endpoint and has the provider module (``services.identity_provider``:
discovery, keys, JWT validation, claims to principal) validate the ID token with the nonce.
Every way a sign-in can fail is a ``SingleSignOnError`` whose detail the sign-in page shows.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

# How long a ``return_to`` may be (``console.identity.safe_next`` keeps to it).
from feature_gateway.db.oidc_logins import RETURN_TO_LENGTH as RETURN_TO_LENGTH
from feature_gateway.db.oidc_logins import PendingSignIn, TakenSignIn
from feature_gateway.db.scopes import Database
from feature_gateway.domain.identity import Principal
from feature_gateway.errors import GatewayError, SingleSignOnError
from feature_gateway.services.identity_provider import Discovery, IdentityProvider

if TYPE_CHECKING:  # imported at the token endpoint only (see identity_provider)
    import httpx

# A browser has this long at the provider (typing a password, a second factor) to come back.
PENDING_LIFETIME_MS = 10 * 60 * 1000
# openid: an ID token; profile: preferred_username (the default principal claim); email: for
# providers whose principal claim is the address. The groups claim comes with the ID token.
SCOPE = "openid profile email"
TOKEN_ENDPOINT_TIMEOUT_S = 10.0
_MAX_PROVIDER_TEXT = 300  # of an error description the provider sends, shown on the page


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str  # the provider's authorization endpoint with the request's parameters
    state: str  # the browser's cookie keeps it too: a callback it did not start is refused


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    id_token: str  # the provider's sign-out wants it back (id_token_hint)
    return_to: str


def begin_sign_in(
    database: Database,
    provider: IdentityProvider,
    *,
    client_id: str,
    redirect_uri: str,
    return_to: str,
    now: int,
) -> AuthorizationRequest:
    """Start a sign-in: keep it on the server, and where to send the browser (S256 PKCE, a
    fresh ``state`` and ``nonce``). SingleSignOnError when the provider cannot be reached."""
    endpoint = _discovery(provider).authorization_endpoint
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    row = PendingSignIn(
        state=state,
        nonce=nonce,
        code_verifier=verifier,
        return_to=return_to,
        created_time=now,
        expires_time=now + PENDING_LIFETIME_MS,
    )
    with database.writing() as uow:
        uow.sign_ins.purge_expired(now)
        uow.sign_ins.add(row)
        uow.commit()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": SCOPE,
        "state": state,
        "nonce": nonce,
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    separator = "&" if "?" in endpoint else "?"
    return AuthorizationRequest(f"{endpoint}{separator}{urlencode(query)}", state)


def code_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)), without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def finish_sign_in(
    database: Database,
    provider: IdentityProvider,
    *,
    params: dict[str, str],
    browser_state: str | None,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    now: int,
) -> SignedIn:
    """The provider sent the browser back with ``params`` (its callback's query): who signed
    in, or SingleSignOnError. The pending sign-in the ``state`` names is taken first, whatever
    else the callback says, so that no ``state`` is ever good twice."""
    pending, code = _callback(database, params, browser_state, now)
    id_token = _exchange(
        provider,
        code=code,
        verifier=pending.code_verifier,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
    )
    try:
        claims = provider.verify(id_token, audience=client_id, nonce=pending.nonce)
        principal = provider.principal_of(claims)
    except GatewayError as refused:
        raise SingleSignOnError(f"The provider's ID token was refused: {refused.detail}") from None
    return SignedIn(principal, id_token, pending.return_to)


def _callback(
    database: Database, params: dict[str, str], browser_state: str | None, now: int
) -> tuple[TakenSignIn, str]:
    """The pending sign-in the callback's ``state`` names (taken: never good twice), and the
    code; SingleSignOnError for the provider's error or a callback that is not one."""
    state = params.get("state")
    pending = _take(database, state) if state else None
    error = params.get("error")
    if error:
        raise SingleSignOnError(_provider_error(error, params.get("error_description")))
    if pending is None or pending.expires_time <= now:
        raise SingleSignOnError(
            "This sign-in link is unknown, expired or used already (each works once): "
            "sign in again."
        )
    if state != browser_state:
        raise SingleSignOnError(
            "This sign-in was not started in this browser: sign in again from here."
        )
    code = params.get("code")
    if not code:
        raise SingleSignOnError("The provider sent no authorization code: sign in again.")
    return pending, code


def end_session_url(
    provider: IdentityProvider, *, id_token: str | None, return_to: str
) -> str | None:
    """Where to send a browser signing out of a single sign-on session (RP-initiated logout):
    the provider's ``end_session_endpoint``, when it has one and can be reached."""
    try:
        endpoint = provider.discovery().end_session_endpoint
    except GatewayError:
        return None  # signed out here all the same; the provider's session stays
    if not endpoint:
        return None
    query = {"post_logout_redirect_uri": return_to}
    if id_token:
        query["id_token_hint"] = id_token
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(query)}"


def _take(database: Database, state: str) -> TakenSignIn | None:
    with database.writing() as uow:
        taken = uow.sign_ins.take(state)
        uow.commit()
    return taken


def _discovery(provider: IdentityProvider) -> Discovery:
    try:
        return provider.discovery()
    except GatewayError as unavailable:  # IdentityProviderUnavailableError
        raise SingleSignOnError(
            f"The sign-in provider cannot be reached: {unavailable.detail}"
        ) from None


def _exchange(
    provider: IdentityProvider,
    *,
    code: str,
    verifier: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
) -> str:
    """The ID token the token endpoint gives for ``code`` (client_secret_basic)."""
    import httpx

    endpoint = _discovery(provider).token_endpoint
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    try:
        response = provider.post_form(
            endpoint, form, auth=(client_id, client_secret), timeout=TOKEN_ENDPOINT_TIMEOUT_S
        )
    except httpx.HTTPError as failed:
        raise SingleSignOnError(
            f"The sign-in provider's token endpoint cannot be reached ({type(failed).__name__}):"
            " sign in again later."
        ) from None
    body = _json(response)
    if response.status_code != 200:
        error = str(body.get("error") or f"HTTP {response.status_code}")
        raise SingleSignOnError(
            "The sign-in provider refused the sign-in code: "
            + _provider_text(error, body.get("error_description"))
        )
    id_token = body.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise SingleSignOnError("The sign-in provider's token endpoint sent no ID token.")
    return id_token


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _provider_error(error: str, description: str | None) -> str:
    if error == "access_denied":
        lead = "The sign-in was refused at the provider (consent not given, or access denied)"
    else:
        lead = "The sign-in provider reported an error"
    return f"{lead}: {_provider_text(error, description)}"


def _provider_text(error: str, description: Any) -> str:
    """The provider's own words, short (they are shown, escaped, on the sign-in page)."""
    text = error if not description else f"{error} ({description})"
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_PROVIDER_TEXT else text[: _MAX_PROVIDER_TEXT - 1] + "…"
