"""The review console's sessions on the server (SPEC §10): started at sign-in, checked on
every console request, ended at sign-out, on every worker and host (the database keeps
them, not a process)."""

from __future__ import annotations

import secrets

from feature_gateway.db.console_sessions import ConsoleSession
from feature_gateway.db.scopes import Database


def start_session(
    database: Database,
    *,
    principal: str,
    now: int,
    lifetime_ms: int,
    id_token: str | None = None,
) -> str:
    """A new session's id (256 random bits); the sessions expired by now are purged. A single
    sign-on session keeps the provider's ``id_token`` for its sign-out (``end_session``)."""
    session_id = secrets.token_urlsafe(32)
    row = ConsoleSession(
        session_id=session_id,
        principal=principal,
        created_time=now,
        expires_time=now + lifetime_ms,
        id_token=id_token,
    )
    with database.writing() as uow:
        uow.console_sessions.purge_expired(now)
        uow.console_sessions.add(row)
        uow.commit()
    return session_id


def session_is_live(database: Database, session_id: str, now: int) -> bool:
    """Whether the session was started, has not ended and has not expired."""
    with database.reading() as uow:
        expires_time = uow.console_sessions.expires_time(session_id)
    return expires_time is not None and now < expires_time


def end_session(database: Database, session_id: str) -> str | None:
    """End the session everywhere; ending one that has ended already changes nothing. The
    ended session's ID token, when it was a single sign-on session (None otherwise)."""
    with database.writing() as uow:
        id_token = uow.console_sessions.remove(session_id)
        uow.commit()
    return id_token
