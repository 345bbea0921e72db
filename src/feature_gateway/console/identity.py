"""Who is signed in to the console, kept in its session and checked on every request.

- Token mode: a person pastes an API token; it is verified by the tokens service, and the
  session keeps the token's id (never the token). Each request looks the token up again,
  so a revoked or expired token ends the session on its next page.
- Single sign-on (token mode with OIDC on, SPEC §12): the company's OpenID provider vouched
  for the person (``services.single_sign_on``); the session keeps their name, roles and
  groups as they were at sign-in, for its 8 hours, and acts with the credential
  ``oidc:<issuer>``. Its ID token stays on the server, for the provider's sign-out.
- Trust mode: a person picks a role and types a name, as a trust-mode API request claims
  them; nothing is verified (the pages say so).

In both modes the session also lives on the server (``services.console_sessions``): the
cookie names it, every request checks it is live, and signing out ends it, so a copy of the
cookie taken before sign-out no longer works anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import flash, redirect, request, session, url_for

from feature_gateway.console.session import SESSION_LIFETIME
from feature_gateway.domain.identity import Principal, oidc_credential
from feature_gateway.domain.lifecycle import WORKFLOW_ROLES, Role
from feature_gateway.domain.tokens import token_id_of
from feature_gateway.errors import AuthenticationError
from feature_gateway.services import console_sessions, tokens
from feature_gateway.services.clock import now_ms
from feature_gateway.services.single_sign_on import RETURN_TO_LENGTH, SignedIn
from feature_gateway.web import caller
from feature_gateway.web.context import database, settings

F = TypeVar("F", bound=Callable[..., Any])
_LIFETIME_MS = int(SESSION_LIFETIME.total_seconds() * 1000)
# The session's keys: its id on the server; who (token mode: the token's id, or with single
# sign-on the provider's person; trust mode: name and role); since when.
_SESSION_ID, _TOKEN_ID, _NAME, _ROLE, _SINCE = "sid", "token_id", "name", "role", "since"
_PROVIDER_PERSON = "sso"  # {"name", "roles", "groups"}: signed, so as the provider said
# The state of a sign-in at the provider under way: its callback must come to this browser.
_SIGN_IN_STATE = "sso_state"


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in person as the pages show them; the role they act in for an action is
    the caller's (``web.caller.role_for``), as for the API."""

    name: str
    roles: tuple[Role, ...]  # in declaration order
    authenticated: bool  # a verified principal (token mode), not a claimed name

    @classmethod
    def of(cls, principal: Principal) -> ConsoleUser:
        roles = tuple(role for role in Role if role in principal.roles)
        return cls(principal.name, roles, principal.authenticated)


def current_user() -> ConsoleUser | None:
    """The signed-in person: the caller of this console request (``load_user``)."""
    signed_in = caller.principal()
    return None if signed_in is None else ConsoleUser.of(signed_in)


def signed_in_user() -> ConsoleUser:
    """The signed-in person, in a view behind ``signed_in``."""
    user = current_user()
    if user is None:
        raise RuntimeError("signed_in_user() called outside a @signed_in view")
    return user


def load_user() -> None:
    """Run before every console request: the signed-in person is the request's caller
    (``web.caller``), or none is (and a session whose token was revoked, expired or
    deleted, or that is older than 8 hours, ends)."""
    since = session.get(_SINCE)
    if not isinstance(since, int):
        return
    now = now_ms()
    if now - since > _LIFETIME_MS:
        _end_session("Your session has expired after 8 hours; sign in again.")
        return
    session_id = session.get(_SESSION_ID)
    if not isinstance(session_id, str) or not console_sessions.session_is_live(
        database(), session_id, now
    ):
        _end_session("This session has ended (signed out); sign in again.")
        return
    if settings().token_mode and _PROVIDER_PERSON in session:
        caller.identify(_provider_user(session[_PROVIDER_PERSON]))
    elif settings().token_mode:
        caller.identify(_token_user(session.get(_TOKEN_ID), now))
    else:
        caller.identify(_trust_user(session.get(_NAME), session.get(_ROLE)))


def _token_user(token_id: Any, now: int) -> Principal | None:
    if not isinstance(token_id, str):
        return None
    try:
        return tokens.authenticate_session(database(), token_id, now)
    except AuthenticationError as refused:
        _end_session(f"Signed out: {_token_problem(refused.detail)}")
        return None


def _provider_user(person: Any) -> Principal | None:
    issuer = settings().oidc_issuer
    if not issuer:  # single sign-on was switched off since
        _end_session("Signed out: single sign-on is no longer offered here.")
        return None
    if not isinstance(person, dict) or not isinstance(person.get("name"), str):
        return None
    known = {role.value for role in Role}
    return Principal(
        person["name"],
        frozenset(Role(role) for role in person.get("roles", ()) if role in known),
        authenticated=True,
        groups=frozenset(str(group) for group in person.get("groups", ())),
        credential=oidc_credential(issuer),
    )


def _token_problem(detail: str) -> str:
    for subject in ("The bearer token", "The API token"):
        detail = detail.replace(subject, "your API token")
    return detail


def _trust_user(name: Any, role: Any) -> Principal | None:
    if not isinstance(name, str) or role not in {r.value for r in WORKFLOW_ROLES}:
        return None
    return Principal(name, frozenset({Role(role)}), authenticated=False)


def _end_session(message: str) -> None:
    _forget_session()
    flash(message, "error")


def _forget_session() -> str | None:
    """End the session on the server (if it still lives there) and clear the cookie; the ID
    token of a single sign-on session that was still live."""
    session_id = session.get(_SESSION_ID)
    id_token = None
    if isinstance(session_id, str):
        id_token = console_sessions.end_session(database(), session_id)
    session.clear()
    return id_token


def sign_in_with_token(token: str) -> ConsoleUser:
    """Verify a pasted API token (AuthenticationError if it is not valid) and start a
    session keeping its id."""
    now = now_ms()
    principal = tokens.authenticate(database(), token, now)
    token_id = token_id_of(token)
    if token_id is None:  # authenticate refuses such a token first
        raise AuthenticationError("The bearer token is malformed.", token_sent=True)
    _start_session(now, principal.name, {_TOKEN_ID: token_id})
    return ConsoleUser.of(principal)


def sign_in_as_claimed(name: str, role: Role) -> ConsoleUser:
    _start_session(now_ms(), name, {_NAME: name, _ROLE: role.value})
    return ConsoleUser(name, (role,), authenticated=False)


def sign_in_at_provider(signed_in: SignedIn) -> ConsoleUser:
    """Start a session for the person the provider vouched for (``finish_sign_in``)."""
    principal = signed_in.principal
    person = {
        "name": principal.name,
        "roles": [role.value for role in Role if role in principal.roles],
        "groups": sorted(principal.groups),
    }
    _start_session(
        now_ms(), principal.name, {_PROVIDER_PERSON: person}, id_token=signed_in.id_token
    )
    return ConsoleUser.of(principal)


def remember_sign_in_state(state: str) -> None:
    """The browser about to go to the provider: its callback must bring this ``state``."""
    session[_SIGN_IN_STATE] = state


def take_sign_in_state() -> str | None:
    state = session.pop(_SIGN_IN_STATE, None)
    return state if isinstance(state, str) else None


def _start_session(
    now: int, principal: str, identity: dict[str, Any], *, id_token: str | None = None
) -> None:
    # A fresh session (and so a fresh CSRF token): nothing of the one before carries over.
    _forget_session()
    session[_SESSION_ID] = console_sessions.start_session(
        database(), principal=principal, now=now, lifetime_ms=_LIFETIME_MS, id_token=id_token
    )
    session.update(identity)
    session[_SINCE] = now
    session.permanent = True  # the cookie lasts the session's lifetime, not the browser's


def sign_out() -> str | None:
    """End the session; the provider's ID token when it was a live single sign-on session
    (its sign-out wants it as id_token_hint)."""
    return _forget_session()


def signed_in(view: F) -> F:
    """The view needs a signed-in person; others are sent to the sign-in page and back."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return cast(F, wrapper)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site), and no
    longer than a pending sign-in at the provider keeps."""
    default = url_for("console.queue")
    if not target or not target.startswith("/console/") or target.startswith("//"):
        return default
    if len(target) > RETURN_TO_LENGTH:
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target
