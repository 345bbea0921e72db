"""Sign-ins at the OpenID provider under way (SPEC §12, the console): one row from the moment
the console sends a browser to the provider until the provider sends it back.

The row keeps what the browser must never hold (the PKCE code verifier, the nonce) and is
deleted when the callback takes it, so a ``state`` is good for one callback only, even for
someone holding a copy of the browser's cookie from before. Rows whose sign-in was never
finished are purged when a later one starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Index, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from feature_gateway.db.base import Base

# The longest console address a sign-in returns to (``console.identity.safe_next`` sends a
# longer one to the queue).
RETURN_TO_LENGTH = 2048


class PendingSignIn(Base):
    __tablename__ = "oidc_sign_ins"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    # The console page to go to once signed in (console.identity.safe_next checked it).
    return_to: Mapped[str] = mapped_column(String(RETURN_TO_LENGTH))
    created_time: Mapped[int] = mapped_column(BigInteger)
    expires_time: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_oidc_sign_ins_expires_time", "expires_time"),)


@dataclass(frozen=True)
class TakenSignIn:
    """What the callback needs of a pending sign-in, read as it is deleted."""

    nonce: str
    code_verifier: str
    return_to: str
    expires_time: int


class PendingSignInRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: PendingSignIn) -> None:
        self.session.add(row)

    def take(self, state: str) -> TakenSignIn | None:
        """Delete the sign-in ``state`` names and say what it held; None when there is none
        (never started, taken already, purged). One statement (DELETE … RETURNING), so of two
        callbacks racing with one state only one gets the row."""
        taken = self.session.execute(
            delete(PendingSignIn)
            .where(PendingSignIn.state == state)
            .returning(
                PendingSignIn.nonce,
                PendingSignIn.code_verifier,
                PendingSignIn.return_to,
                PendingSignIn.expires_time,
            )
        ).one_or_none()
        return None if taken is None else TakenSignIn(*taken)

    def purge_expired(self, now: int) -> int:
        result = self.session.execute(
            delete(PendingSignIn).where(PendingSignIn.expires_time <= now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
