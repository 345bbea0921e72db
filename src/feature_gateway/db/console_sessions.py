"""The review console's sessions (SPEC §10): one row per signed-in browser, kept in the
database so that signing out ends a session on every worker and host.

The session cookie (signed with SECRET_KEY) carries the row's id; a console request is
served only while that row exists and has not expired. Signing out deletes the row, so a
copy of the cookie taken before no longer works; expired rows are purged at sign-in.
A single sign-on session also keeps its ID token here, for the provider's sign-out.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from feature_gateway.db.base import Base
from feature_gateway.db.models import ACTOR


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal: Mapped[str] = mapped_column(ACTOR)  # who signed in (verified or claimed)
    created_time: Mapped[int] = mapped_column(BigInteger)
    expires_time: Mapped[int] = mapped_column(BigInteger)
    # A single sign-on session's ID token, sent back to the provider at sign-out as the
    # id_token_hint (RP-initiated logout); kept here, not in the cookie: it is a bearer JWT.
    id_token: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_console_sessions_expires_time", "expires_time"),)


_EXPIRY = select(ConsoleSession.expires_time)


class ConsoleSessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: ConsoleSession) -> None:
        self.session.add(row)

    def expires_time(self, session_id: str) -> int | None:
        """When the session expires, or None when there is no such session (signed out,
        purged, never started): the per-request lookup, one primary-key read."""
        return self.session.execute(
            _EXPIRY.where(ConsoleSession.session_id == session_id)
        ).scalar_one_or_none()

    def remove(self, session_id: str) -> str | None:
        """Delete the session; its ID token (None for a token or trust-mode session, or when
        it had ended already)."""
        removed = self.session.execute(
            delete(ConsoleSession)
            .where(ConsoleSession.session_id == session_id)
            .returning(ConsoleSession.id_token)
        ).one_or_none()
        return None if removed is None else removed[0]

    def purge_expired(self, now: int) -> int:
        """Delete the sessions that expired before ``now`` (an index range); how many."""
        result = self.session.execute(
            delete(ConsoleSession).where(ConsoleSession.expires_time <= now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
