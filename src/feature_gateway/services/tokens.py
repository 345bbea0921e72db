"""API token use cases: issue, list, revoke, and authenticate a request's token.

Every request in token mode reads its token's row: revoking or expiring a token takes
effect on the next request on every worker and every host, since none keeps a copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from feature_gateway.db.scopes import Database
from feature_gateway.db.tokens import ROLE_SEPARATOR, ApiToken
from feature_gateway.domain.identity import Principal, token_credential
from feature_gateway.domain.lifecycle import Role
from feature_gateway.domain.tokens import (
    LAST_USED_REFRESH_MS,
    is_expired,
    needs_last_used_refresh,
    new_token,
    token_id_of,
    token_matches,
)
from feature_gateway.errors import AuthenticationError, TokenNotFoundError, ValidationError
from feature_gateway.services.clock import now_ms


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the only time the token itself exists outside its holder's hands
    metadata: ApiToken


def create_token(
    database: Database,
    *,
    principal: str,
    roles: Iterable[str],
    created_by: str,
    groups: Iterable[str] = (),
    expires_time: int | None = None,
    description: str | None = None,
    now: int | None = None,
) -> IssuedToken:
    now = now_ms() if now is None else now
    if expires_time is not None and expires_time <= now:
        raise ValidationError.for_field("expires_time", "Must be in the future.")
    issued = new_token()
    row = ApiToken(
        token_id=issued.token_id,
        token_hash=issued.token_hash,
        principal=principal,
        description=description,
        created_time=now,
        created_by=created_by,
        expires_time=expires_time,
    )
    row.roles = ordered_roles(roles)
    row.groups = list(dict.fromkeys(groups))  # each once, in the order given
    with database.writing() as uow:
        uow.tokens.add(row)
        uow.commit()
    return IssuedToken(issued.token, row)


def ordered_roles(names: Iterable[str]) -> list[str]:
    """Known role names, each once, in the order roles are declared; 422 for others."""
    wanted = set(names)
    unknown = sorted(wanted - set(Role))
    if unknown or not wanted:
        message = f"Give one or more of: {', '.join(Role)}."
        raise ValidationError.for_field("roles", message)
    return [role.value for role in Role if role in wanted]


def list_tokens(database: Database) -> Sequence[ApiToken]:
    with database.reading() as uow:
        return uow.tokens.all_by_creation()


def revoke_token(database: Database, token_id: str, *, now: int | None = None) -> ApiToken:
    """Revoke a token; revoking it again changes nothing (the first time is kept)."""
    with database.writing() as uow:
        token = uow.tokens.get(token_id)
        if token is None:
            raise TokenNotFoundError(token_id)
        if token.revoked_time is None:
            token.revoked_time = now_ms() if now is None else now
            uow.commit()
        return token


def authenticate(database: Database, token: str | None, now: int) -> Principal:
    """The principal a bearer token was issued to; AuthenticationError (401) otherwise.

    One primary-key lookup; last_used_time is written at most once a minute per token.
    """
    token_id = None if token is None else token_id_of(token)
    if token is None or token_id is None:
        raise AuthenticationError("The bearer token is malformed.", token_sent=True)
    with database.reading() as uow:
        row = uow.tokens.credentials(token_id)
    if row is None or not token_matches(token, row.token_hash):
        raise AuthenticationError("The bearer token is not valid.", token_sent=True)
    return _principal_of(database, token_id, row, now)


def authenticate_session(database: Database, token_id: str, now: int) -> Principal:
    """The principal of a token verified once already (the review console keeps the
    token's id in its session, never the token): AuthenticationError (401) when the token
    has since been revoked, has expired or no longer exists. One primary-key lookup, as for
    a request with the token itself, so a revocation ends console sessions at once too."""
    with database.reading() as uow:
        row = uow.tokens.credentials(token_id)
    if row is None:
        raise AuthenticationError("The API token no longer exists.", token_sent=True)
    return _principal_of(database, token_id, row, now)


def _principal_of(database: Database, token_id: str, row: Any, now: int) -> Principal:
    if row.revoked_time is not None:
        raise AuthenticationError("The bearer token has been revoked.", token_sent=True)
    if is_expired(row.expires_time, now):
        raise AuthenticationError("The bearer token has expired.", token_sent=True)
    if needs_last_used_refresh(row.last_used_time, now):
        with database.writing() as uow:
            uow.tokens.mark_used(token_id, now, not_since=now - LAST_USED_REFRESH_MS)
            uow.commit()
    roles = frozenset(Role(name) for name in row.role_names.split(ROLE_SEPARATOR))
    return Principal(
        row.principal,
        roles,
        authenticated=True,
        groups=frozenset(row.groups or ()),
        credential=token_credential(token_id),
    )
