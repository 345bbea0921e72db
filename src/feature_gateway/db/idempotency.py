"""The stored responses of writes sent with an ``Idempotency-Key`` (SPEC §11).

One row per (scope, key): claimed before the write starts (``completed_time`` null: in
flight), then completed with the response in the write's own transaction. Plain Core
statements on a connection: a claim is one or two statements in a transaction of its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Index,
    Integer,
    LargeBinary,
    Row,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from feature_gateway.db.base import Base
from feature_gateway.db.violations import is_unique_violation


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    # '' in trust mode (the key alone), the principal's name in token mode.
    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the request, hex
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    # Who holds the claim: a new one when a claim past its lease is taken over.
    claim_token: Mapped[str] = mapped_column(String(32))
    claimed_time: Mapped[int] = mapped_column(BigInteger)
    completed_time: Mapped[int | None] = mapped_column(BigInteger)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_time: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_idempotency_keys_expires_time", "expires_time"),)


_TABLE: Table = IdempotencyRecord.__table__  # type: ignore[assignment]
_C = _TABLE.c
_INSERT = insert(_TABLE)


class IdempotencyRepository:
    """The statements on ``idempotency_keys``; never commits."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, scope: str, key: str) -> Row[Any] | None:
        return self.connection.execute(
            select(_TABLE).where(_C.scope == scope, _C.idempotency_key == key)
        ).one_or_none()

    def add_claim(self, values: dict[str, Any]) -> bool:
        """Insert an in-flight claim; False when the key is already there (a concurrent
        claim: PostgreSQL waits for the other insert's transaction to end, then refuses).

        A plain INSERT, the clash told by the primary key's unique violation: the
        dialects' ``INSERT … ON CONFLICT DO NOTHING`` cannot be cached by SQLAlchemy and was
        compiled anew for every keyed request (docs/performance.md, "Figures behind the
        code"). The claim is its transaction's first statement, and a clash ends it."""
        try:
            self.connection.execute(_INSERT, values)
        except IntegrityError as exc:
            if is_unique_violation(exc):
                return False
            raise
        return True

    def replace_claim(
        self,
        scope: str,
        key: str,
        values: dict[str, Any],
        *,
        if_token: str | None = None,
        if_expired_at: int | None = None,
    ) -> bool:
        """Claim an existing row anew (a lease run out, an expired key), if it is still as
        it was read: a conditional UPDATE, so of two requests taking it over one wins."""
        statement = update(_TABLE).where(_C.scope == scope, _C.idempotency_key == key)
        if if_token is not None:
            statement = statement.where(_C.claim_token == if_token, _C.completed_time.is_(None))
        if if_expired_at is not None:
            statement = statement.where(_C.expires_time <= if_expired_at)
        # RETURNING says whether a row went in (rowcount is -1 for it with psycopg).
        inserted = statement.values(**values).returning(_C.scope)
        return self.connection.execute(inserted).first() is not None

    def complete(
        self,
        scope: str,
        key: str,
        token: str,
        *,
        now: int,
        expires_time: int,
        status: int,
        headers: dict[str, str],
        body: bytes,
    ) -> bool:
        """Store the response, if the claim is still this request's."""
        result = self.connection.execute(
            update(_TABLE)
            .where(
                _C.scope == scope,
                _C.idempotency_key == key,
                _C.claim_token == token,
                _C.completed_time.is_(None),
            )
            .values(
                completed_time=now,
                expires_time=expires_time,
                response_status=status,
                response_headers=headers,
                response_body=body,
            )
        )
        return result.rowcount == 1

    def release(self, scope: str, key: str, token: str) -> None:
        """Drop an in-flight claim whose request failed, so that a retry need not wait."""
        self.connection.execute(
            delete(_TABLE).where(
                _C.scope == scope,
                _C.idempotency_key == key,
                _C.claim_token == token,
                _C.completed_time.is_(None),
            )
        )

    def purge_expired(self, now: int, limit: int) -> int:
        """Delete up to ``limit`` expired rows (oldest first, through the expiry index)."""
        expired = (
            select(_C.scope, _C.idempotency_key)
            .where(_C.expires_time <= now)
            .order_by(_C.expires_time)
            .limit(limit)
        )
        result = self.connection.execute(
            delete(_TABLE).where(tuple_(_C.scope, _C.idempotency_key).in_(expired))
        )
        return int(result.rowcount)
