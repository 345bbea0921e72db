"""The role an API request acts in, and its actor fields bound to its caller.

Who the caller is, is decided for both front doors by ``web.caller`` (in token mode, from
the request's bearer token); nothing else reads credentials. Here the views get the role
they act in (and, for writes, the actor names bound to the principal), and hand them to
the services.

- ``AUTH_MODE=trust``: the role is what the request claims, the ``user_role`` body field on
  POST, the ``user_role`` query parameter or ``X-User-Role`` header otherwise; the actor
  names are the request's ``*_by`` fields. Only the workflow roles can be claimed.
- ``AUTH_MODE=token``: a role given in the request must be one of the token's; without
  one, the token's role that may perform the action is used (``web.caller.role_for``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from typing import Any, cast

from flask import g, request

from feature_gateway.domain.identity import ACTOR_FIELDS, claimable_roles, same_person
from feature_gateway.domain.lifecycle import PERMISSIONS, Action, Role
from feature_gateway.domain.text import name_problem
from feature_gateway.domain.usage import ANONYMOUS
from feature_gateway.errors import (
    ActingAsAnotherPrincipalError,
    ForbiddenError,
    GatewayError,
    NoRoleMayActError,
    RoleNotGrantedError,
    RoleRequiredError,
    TokenManagementDisabledError,
    ValidationError,
    WebhookManagementDisabledError,
)
from feature_gateway.shapes.role_schemas import ROLE_HEADER
from feature_gateway.web.caller import principal, principal_of, role_for
from feature_gateway.web.context import settings

# Actions that only a verified principal may take: in trust mode anyone could claim them,
# so they are refused with the error naming the command line that does the same.
TOKEN_MODE_ACTIONS: dict[Action, Callable[[], GatewayError]] = {
    Action.MANAGE_TOKENS: TokenManagementDisabledError,
    Action.MANAGE_WEBHOOKS: WebhookManagementDisabledError,
}
# Action → (its error outside token mode if it is one of those, the roles that may take it).
_RULES = {action: (TOKEN_MODE_ACTIONS.get(action), PERMISSIONS[action]) for action in Action}
# Methods whose role may also come from the X-User-Role header (they carry no JSON body).
_HEADER_ROLE_METHODS = frozenset({"GET", "HEAD", "DELETE"})
# The header as the WSGI environ holds it (werkzeug's headers object looks it up there,
# at a cost, on every request).
_ROLE_HEADER_ENVIRON = "HTTP_" + ROLE_HEADER.upper().replace("-", "_")


def consumer() -> str:
    """Whose read this request is (SPEC §13): the principal, "anonymous" in trust mode."""
    verified = principal()
    return ANONYMOUS if verified is None else verified.name


def identity_fields_optional() -> bool:
    """With a token the actor and role fields may be left out (SPEC §7)."""
    return settings().token_mode


def bind_actor_fields(body: Mapping[str, Any], schema: Any) -> Mapping[str, Any]:
    """With a token, the actor names of a write (``created_by``, ``approved_by``, ...) are
    the principal's: one left out is filled in, one naming someone else is 403.

    Only the actor fields a schema requires are bound: ``created_by`` as a list filter
    names whose features to list, not who is acting.
    """
    verified = principal()
    if verified is None:
        return body
    # A copy of the same type: an outline's count of keys left out too (api.body_outline).
    bound = cast(dict[str, Any], copy.copy(body))
    for name in ACTOR_FIELDS:
        field = schema.fields.get(name)
        if field is None or not field.required:
            continue
        given = bound.get(name)
        problem = name_problem(given) if isinstance(given, str) else None
        if problem is not None:  # the name rule first, as without a token
            raise ValidationError.for_field(name, problem)
        if isinstance(given, str) and not same_person(given, verified.name):
            raise ActingAsAnotherPrincipalError(verified.name, name, given)
        # Left out: the principal's name. An explicit null or a non-string is left for
        # the schema to refuse, as without a token.
        if name not in bound or isinstance(given, str):
            bound[name] = verified.name
    return bound


def caller_role(declared: str | None) -> Role | None:
    """The role the caller names, or None when they gave none; unknown roles are 422, and
    with a token a role it does not carry is 403.

    Without a JSON body the role comes from the ``user_role`` query parameter or, without
    it, from the header; a header that names no known role is refused even when the query
    wins.
    """
    # The objects behind the proxies and the roles that may be named, looked up once: every
    # proxy access is a lookup (a read by name asked for six). A role is found with its
    # value (the access log's), which an enum member gives through a property.
    current = request._get_current_object()  # type: ignore[attr-defined]
    header = None
    if current.method in _HEADER_ROLE_METHODS:
        header = current.environ.get(_ROLE_HEADER_ENVIRON)
    if declared is None and header is None:  # no role named (the settings not looked up)
        return None
    known = _claimable(settings().token_mode)
    found = None if declared is None else _known_role(declared, known)
    if header is not None:  # a header naming no known role is refused, even here
        header_found = _known_role(header, known, ROLE_HEADER)
        found = found or header_found
    if found is None:
        return None
    role, value = found
    context = g._get_current_object()
    verified = principal_of(context)
    if verified is not None and role not in verified.roles:
        raise RoleNotGrantedError(verified.name, value, verified.roles)
    context.role = value  # for the access log
    return role


def require_any_role(declared: str | None = None) -> Role | None:
    """Serving feature values (``POST /features``, ``GET /features/available``, Feast's
    endpoint): any role will do, so the role named (if any) is only checked; but a verified
    caller with no role at all (single sign-on, groups that map to none) is 403."""
    role = caller_role(declared)
    verified = principal()
    if verified is not None and not verified.roles:
        raise NoRoleMayActError(verified.name, "read feature values", (), (r.value for r in Role))
    return role


def require_role(action: Action, declared: str | None) -> Role:
    """The role the caller acts in for ``action``: 422 without a role (trust mode), 403 if
    that role may not perform it."""
    # (One lookup by the action: an enum member's hash is a Python call.)
    token_mode_only, allowed = _RULES[action]
    if token_mode_only is not None and not settings().token_mode:
        caller_role(declared)  # a role that does not exist is still a 422
        raise token_mode_only()
    role = caller_role(declared) or _inferred_role(action)
    if role not in allowed:
        raise ForbiddenError(role.value, action.value, (r.value for r in allowed))
    return role


def acting_admin(action: Action, declared: str | None) -> str:
    """The verified principal acting for one of ``TOKEN_MODE_ACTIONS`` (an admin's): 403
    in trust mode, 403 for another role."""
    require_role(action, declared)
    verified = principal()
    if verified is None:  # cannot happen: require_role refuses these actions in trust mode
        raise TOKEN_MODE_ACTIONS[action]()
    return verified.name


def _inferred_role(action: Action) -> Role:
    verified = principal()
    if verified is None:
        where = (
            f"the user_role query parameter or the {ROLE_HEADER} header"
            if request.method in _HEADER_ROLE_METHODS
            else "the user_role field"
        )
        raise RoleRequiredError(
            f"A role is required to {action.value}: send it in {where}.",
            {"user_role": ["Missing data for required field."]},
        )
    role = role_for(action)
    if role is None:
        allowed = PERMISSIONS[action]
        raise NoRoleMayActError(
            verified.name, action.value, verified.roles, (r.value for r in allowed)
        )
    g.role = role.value
    return role


def _known_role(
    raw: str, known: dict[str, tuple[Role, str]], where: str = "user_role"
) -> tuple[Role, str]:
    found = known.get(raw)
    if found is None:
        names = ", ".join(known)
        raise RoleRequiredError(
            f"Unknown role {raw!r}; {where} must be one of: {names}.",
            {where: [f"Must be one of: {names}."]},
        )
    return found


@functools.cache
def _claimable(token_mode: bool) -> dict[str, tuple[Role, str]]:
    """``claimable_roles``, name → (role, its value), in its order: asked on every request."""
    return {name: (Role(name), name) for name in claimable_roles(token_mode=token_mode)}
