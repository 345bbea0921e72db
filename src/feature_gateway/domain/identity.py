"""Who acts: the principal behind a request, and the request fields bound to it (SPEC §7).

In trust mode a principal is whatever name and role the request claims (``authenticated``
is false); in token mode it is the name and roles an API token was issued to.
"""

from __future__ import annotations

from dataclasses import dataclass

from feature_gateway.domain.lifecycle import WORKFLOW_ROLES, Role

# The request fields naming who performs an action. In token mode each is optional and,
# when given, must name the principal: what is stored is the principal.
ACTOR_FIELDS = (
    "created_by",
    "last_updated_by",
    "submitted_by",
    "tested_by",
    "approved_by",
    "rejected_by",
    "fixed_by",
    "deleted_by",
    "deprecated_by",
    "retired_by",
)
ROLE_FIELD = "user_role"
# Required in trust mode (they are all the service knows of the caller); optional with a
# token, which says who the caller is and which roles it may act in.
IDENTITY_FIELDS = frozenset({ROLE_FIELD, *ACTOR_FIELDS})


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[Role]
    authenticated: bool


def claimable_roles(*, token_mode: bool) -> list[str]:
    """The roles a request may name, in declaration order: with a token every role (the
    token decides which it has), without one the workflow's (nobody can claim admin)."""
    roles = Role if token_mode else WORKFLOW_ROLES
    return [role.value for role in Role if role in roles]


def same_person(one: str | None, other: str | None) -> bool:
    """Names of people are compared case-insensitively ("Alice" is "alice")."""
    return one is not None and other is not None and one.casefold() == other.casefold()
