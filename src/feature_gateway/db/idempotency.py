"""The stored responses of writes sent with an ``Idempotency-Key`` (SPEC §11).

One row per (scope, key): claimed before the write starts (``completed_time`` null: in
flight), then completed with the response in the write's own transaction.

Every statement here is SQLAlchemy's, built once at import and compiled once per dialect,
and run by the driver (``db.compiled.on_driver`` inside a transaction, the DBAPI cursor on
the claims' autocommit connection, ``db.idempotency_claims``): a keyed write runs four of
them (two on PostgreSQL), and building, caching and compiling them per request cost a keyed
create about a tenth of its instructions (docs/performance.md, "i26-keyed"). SQLite's claim
is a plain INSERT, a clash told by the primary key's unique violation; PostgreSQL's is an
``INSERT … ON CONFLICT DO NOTHING`` of ours, compiled once (``_postgresql_claim``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    null,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from feature_gateway.db.base import Base
from feature_gateway.db.compiled import CompiledStatement, compile_for_driver, on_driver, row_count
from feature_gateway.db.violations import is_driver_unique_violation

T = TypeVar("T")


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
_STORED = ("fingerprint", "method", "path", "claim_token", "claimed_time", "completed_time",
           "response_status", "response_headers", "response_body", "expires_time")  # fmt: skip
_CLAIM = ("fingerprint", "method", "path", "claim_token", "claimed_time", "expires_time")


def _p(column: str) -> Any:
    """A named parameter of ``column``'s type (its conversion: a JSON column's text)."""
    return bindparam(column, type_=_C[column].type)


def _this_key() -> tuple[Any, ...]:
    return (_C.scope == _p("scope"), _C.idempotency_key == _p("idempotency_key"))


def _unfinished_claim() -> tuple[Any, ...]:
    return (*_this_key(), _C.claim_token == _p("claim_token"), _C.completed_time.is_(None))


def _expired(*other_than: Any) -> Any:
    """The keys of up to ``batch`` rows expired at ``now``, oldest first (the expiry index)."""
    return (
        select(_C.scope, _C.idempotency_key)
        .where(_C.expires_time <= bindparam("now", type_=BigInteger), *other_than)
        .order_by(_C.expires_time)
        .limit(bindparam("batch", type_=Integer))
    )


def _purge(*other_than: Any) -> Any:
    return delete(_TABLE).where(tuple_(_C.scope, _C.idempotency_key).in_(_expired(*other_than)))


def _sqlite_purge() -> Any:
    """SQLite's purge: the expired rows up to the ``batch``-th oldest (by expiry, then
    rowid: the expiry index's order), that row found by one scalar subquery, which SQLite
    runs once, by an index seek, at the first row it checks (before any is deleted). The
    ``IN (SELECT …)`` of ``_purge`` fills a temporary table on each run, and its RETURNING
    another: 51,000 instructions per keyed write for a purge that mostly deletes nothing,
    2,000 this way (docs/performance.md, "i28-keyed"). One subquery, not one per column: a
    DELETE deletes each row as it is checked, and a subquery that an ``OR`` reaches only
    later would see the rows deleted so far. Fewer than ``batch`` expired: all of them."""
    return text(
        "DELETE FROM idempotency_keys WHERE expires_time <= :now AND (expires_time, rowid) <="
        " (SELECT coalesce(max(t), :now), coalesce(max(r), 9223372036854775807) FROM"
        " (SELECT expires_time AS t, rowid AS r FROM idempotency_keys"
        " WHERE expires_time <= :now ORDER BY expires_time, rowid LIMIT 1 OFFSET :last))"
    ).bindparams(bindparam("now", type_=BigInteger), bindparam("last", type_=Integer))


_CLAIMED = {name: _p(name) for name in _CLAIM}
# A row claimed anew has no response.
_CLEARED = {name: null() for name in _STORED if name not in _CLAIM}
_RESPONSE = ("completed_time", "expires_time", "response_status", "response_headers",
             "response_body")  # fmt: skip
# Its row count says whether the claim was still this request's (no RETURNING: SQLAlchemy
# would build a result's columns for it, a tenth of what the UPDATE costs in process).
_COMPLETE = update(_TABLE).where(*_unfinished_claim()).values(**{n: _p(n) for n in _RESPONSE})
_STATEMENTS: dict[str, Any] = {
    "get": select(*(_C[name] for name in _STORED)).where(*_this_key()),
    "add": insert(_TABLE).values(
        scope=_p("scope"), idempotency_key=_p("idempotency_key"), **_CLAIMED
    ),
    # A claim anew of a row still as it was read: of two requests taking it over, one wins.
    "take_over": update(_TABLE)
    .where(*_this_key(), _C.claim_token == bindparam("held_by", type_=String))
    .where(_C.completed_time.is_(None))
    .values(**_CLAIMED, **_CLEARED)
    .returning(_C.scope),
    "renew": update(_TABLE)
    .where(*_this_key(), _C.expires_time <= bindparam("now", type_=BigInteger))
    .values(**_CLAIMED, **_CLEARED)
    .returning(_C.scope),
    "complete": _COMPLETE,
    # PostgreSQL's: the purge of expired keys in the same statement, a data-modifying WITH
    # (one round trip). Its DELETE sees the rows as they were before the statement, this
    # key's claim too, which is expired when the request outlived the keys' lifetime: it is
    # left out, or both parts would change one row (see ``IdempotencyRepository.complete``).
    "complete_and_purge": _COMPLETE.add_cte(
        _purge(
            tuple_(_C.scope, _C.idempotency_key) != tuple_(_p("scope"), _p("idempotency_key"))
        ).cte("purged")
    ),
    "release": delete(_TABLE).where(*_unfinished_claim()),
    "purge": _purge().returning(_C.scope),
}


@dataclass(frozen=True)
class KeyRow:
    """A key's stored row (its columns but the key's own)."""

    fingerprint: str
    method: str
    path: str
    claim_token: str
    claimed_time: int
    completed_time: int | None
    response_status: int | None
    response_headers: dict[str, str] | None
    response_body: bytes | None
    expires_time: int


def _postgresql_claim() -> Any:
    """PostgreSQL's claim: a clash is told by no row inserted (the row count; RETURNING had
    psycopg describe and convert a row for nothing), not by an error (which the server
    would log for each repeat). Built when first compiled: importing PostgreSQL's
    dialect at start added it to every SQLite worker's memory (docs/performance.md)."""
    from sqlalchemy.dialects import postgresql

    return (
        postgresql.insert(_TABLE)
        .values(scope=_p("scope"), idempotency_key=_p("idempotency_key"), **_CLAIMED)
        .on_conflict_do_nothing()
    )


_BUILT_WHEN_COMPILED = {"add_new": _postgresql_claim, "purge_sqlite": _sqlite_purge}


@functools.lru_cache(maxsize=32)  # nine statements for each engine's dialect
def _compiled(name: str, dialect: Dialect) -> CompiledStatement:
    statement = _STATEMENTS[name] if name in _STATEMENTS else _BUILT_WHEN_COMPILED[name]()
    compiled = compile_for_driver(statement, dialect)
    return replace(compiled, conversions=tuple(
        (key, _json_text if key == "response_headers" else convert)
        for key, convert in compiled.conversions
    ))  # fmt: skip


def _json_text(value: Any) -> str | None:
    """The stored response's headers as JSON text, by orjson: the JSON type's conversion
    (the standard library's encoder, and on PostgreSQL psycopg's JSON wrapper and its
    dumper) cost a keyed write 21,000 instructions on SQLite, 50,000 on PostgreSQL
    (docs/performance.md, "i28-keyed"). PostgreSQL takes the text as the JSON the SQL casts
    it to (psycopg sends a str untyped); SQLite stores it as it is. Read back alike (a JSON
    object of strings, by orjson: ``db.engine``), whichever encoder wrote it."""
    return None if value is None else orjson.dumps(value).decode()


class IdempotencyRepository:
    """The statements on ``idempotency_keys``, on a connection inside a transaction (run
    by ``db.compiled.on_driver``: SQLAlchemy's handling of driver errors kept); never commits.
    ``db.idempotency_claims`` runs the same on an autocommit connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect: Dialect = connection.dialect

    def _execute(self, name: str, values: dict[str, Any], result: Callable[[Any], T]) -> T:
        """``result`` of the cursor that ran statement ``name`` with ``values``."""
        compiled = _compiled(name, self.dialect)
        return on_driver(self.connection, compiled.sql, compiled.parameters(values), result)

    def _run(self, name: str, values: dict[str, Any]) -> list[Any]:
        return self._execute(name, values, _rows)

    def _count(self, name: str, values: dict[str, Any]) -> int:
        """The rows ``name`` (an UPDATE or a DELETE without RETURNING) changed."""
        return self._execute(name, values, row_count)

    def get(self, scope: str, key: str) -> KeyRow | None:
        compiled = _compiled("get", self.dialect)
        rows = self._run("get", {"scope": scope, "idempotency_key": key})
        if not rows:
            return None
        converted = zip(rows[0], compiled.processors, strict=True)
        return KeyRow(*(value if p is None else p(value) for value, p in converted))

    @property
    def inserts_first(self) -> bool:
        """Whether a claim is tried before the key is read. Not on SQLite: its INSERT waits
        for the one write lock, which a keyed write holds through its use case, so a repeat
        of a request in flight would wait for it instead of being told 409 at once. On
        PostgreSQL an INSERT waits only for a concurrent insert of the same key."""
        return self.dialect.name == "postgresql"

    def add_claim(self, values: dict[str, Any]) -> bool:
        """Insert an in-flight claim; False when the key is already there (a concurrent
        claim: PostgreSQL waits for the other insert's transaction to end, then refuses)."""
        if self.dialect.name == "postgresql":
            return self._count("add_new", values) > 0
        try:
            self._run("add", values)
        except Exception as exc:
            if is_driver_unique_violation(getattr(exc, "orig", exc)):
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
        """Claim an existing row anew (a lease run out: ``if_token``, the token read; an
        expired key: ``if_expired_at``), if it is still as it was read."""
        where = {"scope": scope, "idempotency_key": key}
        if if_token is not None:
            return bool(self._run("take_over", {**where, **values, "held_by": if_token}))
        return bool(self._run("renew", {**where, **values, "now": if_expired_at}))

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
        purge: int = 0,
    ) -> bool:
        """Store the response, if the claim is still this request's; and delete up to
        ``purge`` expired rows of other keys: after the UPDATE on SQLite (this key's row is
        then expired no more), in the same statement on PostgreSQL (one round trip), which
        leaves this key out."""
        values = {"scope": scope, "idempotency_key": key, "claim_token": token,
                  "completed_time": now, "expires_time": expires_time, "response_status": status,
                  "response_headers": headers, "response_body": body}  # fmt: skip
        if purge and self.dialect.name == "postgresql":
            return self._count("complete_and_purge", {**values, "now": now, "batch": purge}) > 0
        stored = self._count("complete", values) > 0
        if stored and purge:
            self.purge_expired(now, purge)
        return stored

    def release(self, scope: str, key: str, token: str) -> None:
        """Drop an in-flight claim whose request failed, so that a retry need not wait."""
        self._run("release", {"scope": scope, "idempotency_key": key, "claim_token": token})

    def purge_expired(self, now: int, limit: int) -> int:
        """Delete up to ``limit`` expired rows (oldest first, through the expiry index)."""
        if self.dialect.name == "sqlite":
            return self._count("purge_sqlite", {"now": now, "last": limit - 1})
        return len(self._run("purge", {"now": now, "batch": limit}))


def _rows(cursor: Any) -> list[Any]:
    return list(cursor.fetchall()) if cursor.description is not None else []


class DriverIdempotencyRepository(IdempotencyRepository):
    """The same statements on a DBAPI connection in autocommit (``db.idempotency_claims``):
    each one its own transaction, its errors the driver's."""

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        self._dbapi_connection = dbapi_connection
        self.dialect = dialect

    def _execute(self, name: str, values: dict[str, Any], result: Callable[[Any], T]) -> T:
        compiled = _compiled(name, self.dialect)
        # A write on SQLite queues with the write transactions (db.sqlite_writers, imported
        # on SQLite alone, as by db.engine: a PostgreSQL worker never loads sqlite3).
        if name == "get" or self.dialect.name != "sqlite":
            queued: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        else:
            from feature_gateway.db.sqlite_writers import one_write

            queued = one_write(self._dbapi_connection)
        cursor = self._dbapi_connection.cursor()
        try:
            with queued:
                cursor.execute(compiled.sql, compiled.parameters(values))
                return result(cursor)
        finally:
            cursor.close()
