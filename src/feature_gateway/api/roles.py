"""The single place that decides who the caller is and whether they may act.

Today the role is self-declared: the ``user_role`` body field on POST, the ``user_role``
query parameter or ``X-User-Role`` header on GET. Real authentication (API tokens bound to
a principal and its roles) replaces ``caller_role`` and nothing else.
"""

from __future__ import annotations

from flask import g, request

from feature_gateway.api.role_schemas import ROLE_HEADER
from feature_gateway.domain.lifecycle import PERMISSIONS, Action, Role
from feature_gateway.errors import ForbiddenError, RoleRequiredError

_ROLE_NAMES = ", ".join(r.value for r in Role)


def caller_role(declared: str | None) -> Role | None:
    """The role the caller acts as, or None when they gave none; unknown roles are refused.

    On GET the role comes from the ``user_role`` query parameter or, without it, from the
    header; a header that names no known role is refused even when the query wins.
    """
    role = _known_role(declared)
    if request.method == "GET":
        header = request.headers.get(ROLE_HEADER)
        header_role = _known_role(header, ROLE_HEADER)
        role = role or header_role
    if role is not None:
        g.role = role.value  # for the access log
    return role


def _known_role(raw: str | None, where: str = "user_role") -> Role | None:
    if raw is None:
        return None
    try:
        return Role(raw)
    except ValueError:
        raise RoleRequiredError(
            f"Unknown role {raw!r}; {where} must be one of: {_ROLE_NAMES}.",
            {where: [f"Must be one of: {_ROLE_NAMES}."]},
        ) from None


def require_role(action: Action, declared: str | None) -> Role:
    """The caller's role if it may perform ``action``; 422 without a role, 403 if not allowed."""
    role = caller_role(declared)
    if role is None:
        where = (
            "the user_role field"
            if request.method != "GET"
            else (f"the user_role query parameter or the {ROLE_HEADER} header")
        )
        raise RoleRequiredError(
            f"A role is required to {action.value}: send it in {where}.",
            {"user_role": ["Missing data for required field."]},
        )
    allowed = PERMISSIONS[action]
    if role not in allowed:
        raise ForbiddenError(role.value, action.value, (r.value for r in allowed))
    return role
