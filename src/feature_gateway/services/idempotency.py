"""Idempotent writes (SPEC §11): claim a key, replay its stored response, complete it.

The database decides, never process memory, so the rules hold across workers and hosts:

- ``claim`` reads the key's row. None (or expired): a claim is inserted and committed in a
  short transaction of its own before the write starts; of two requests inserting the same
  key, the primary key lets one through. A completed row answers with its stored response
  (the same request) or 422 (another request). An in-flight row answers 409, unless its
  lease ran out (its request crashed or was killed): then a conditional UPDATE takes it over.
- ``complete`` stores the response in the write's own transaction (``db.transactions``),
  only if the claim is still this request's: a request that outlived its lease and was
  taken over is rolled back (409), so a key never applies two changes.
- Expired rows are deleted, a bounded batch at a time, by each claim (no cron needed), and
  by ``purge`` (``feature-gateway idempotency purge``).
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from typing import Any

from feature_gateway.db.idempotency import IdempotencyRepository
from feature_gateway.db.transactions import RequestTransaction, read_connection
from feature_gateway.db.unit_of_work import Database
from feature_gateway.domain.idempotency import RequestIdentity
from feature_gateway.errors import (
    DatabaseUnavailableError,
    IdempotencyClaimLostError,
    IdempotencyKeyReusedError,
    RequestInFlightError,
)

# Expired rows each claim deletes: bounded, so no request pays for a backlog.
PURGE_BATCH = 100
# What a client is told to wait before asking again about a request in flight.
RETRY_AFTER_S = 1


@dataclass(frozen=True)
class Policy:
    ttl_ms: int  # how long a response is kept
    lease_ms: int  # how long an unfinished claim holds its key against a retry


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Claim:
    request: RequestIdentity
    token: str


class _Lost(Exception):
    """The row changed between reading it and claiming it."""


def claim(
    database: Database, request: RequestIdentity, policy: Policy, now: int
) -> Claim | StoredResponse:
    """Claim ``request``'s key, or answer with the stored response of its first request."""
    try:
        return _claim(database, request, policy, now)
    except _Lost:
        # Another request claimed the key between our read and our write: read it again.
        try:
            return _claim(database, request, policy, now)
        except _Lost:
            raise RequestInFlightError(request.key, RETRY_AFTER_S) from None


def _claim(
    database: Database, request: RequestIdentity, policy: Policy, now: int
) -> Claim | StoredResponse:
    with read_connection(database) as connection:
        row = IdempotencyRepository(connection).get(request.scope, request.key)
    if row is not None and row.expires_time > now:
        stored = _answer_for(row, request, policy, now)
        if stored is not None:
            return stored
    token = secrets.token_hex(16)
    values: dict[str, Any] = {
        "fingerprint": request.fingerprint,
        "method": request.method,
        "path": request.path,
        "claim_token": token,
        "claimed_time": now,
        "completed_time": None,
        "response_status": None,
        "response_headers": None,
        "response_body": None,
        "expires_time": now + policy.ttl_ms,
    }
    with database.own_transaction() as connection:
        keys = IdempotencyRepository(connection)
        if row is None:
            if not keys.add_claim(
                {"scope": request.scope, "idempotency_key": request.key, **values}
            ):
                raise _Lost()
        elif row.expires_time <= now:
            if not keys.replace_claim(request.scope, request.key, values, if_expired_at=now):
                raise _Lost()
        elif not keys.replace_claim(request.scope, request.key, values, if_token=row.claim_token):
            raise _Lost()
        keys.purge_expired(now, PURGE_BATCH)
    return Claim(request, token)


def _answer_for(
    row: Any, request: RequestIdentity, policy: Policy, now: int
) -> StoredResponse | None:
    """The stored response for a live row; None when its lease ran out (take it over)."""
    if row.fingerprint != request.fingerprint:
        same_path = (row.method, row.path) == (request.method, request.path)
        raise IdempotencyKeyReusedError(request.key, row.method, row.path, same_path)
    if row.completed_time is not None:
        return StoredResponse(row.response_status, dict(row.response_headers), row.response_body)
    if row.claimed_time + policy.lease_ms > now:
        raise RequestInFlightError(request.key, RETRY_AFTER_S)
    return None


def complete(
    transaction: RequestTransaction,
    claimed: Claim,
    response: StoredResponse,
    policy: Policy,
    now: int,
) -> None:
    """Store ``response`` for the claimed key in the request's transaction (not committed:
    the caller commits the change and its response together)."""
    stored = IdempotencyRepository(transaction.connection).complete(
        claimed.request.scope,
        claimed.request.key,
        claimed.token,
        now=now,
        expires_time=now + policy.ttl_ms,
        status=response.status,
        headers=response.headers,
        body=response.body,
    )
    if not stored:
        raise IdempotencyClaimLostError(claimed.request.key)


def release(database: Database, claimed: Claim) -> None:
    """Free the key of a request that failed (5xx), so that a retry is not held back by
    the lease. Best effort: when the database is gone, the lease frees it later."""
    with contextlib.suppress(DatabaseUnavailableError), database.own_transaction() as connection:
        IdempotencyRepository(connection).release(
            claimed.request.scope, claimed.request.key, claimed.token
        )


def purge(database: Database, now: int, batch: int = 1_000) -> int:
    """Delete every expired key, one bounded transaction at a time; returns how many."""
    removed = 0
    while True:
        with database.own_transaction() as connection:
            count = IdempotencyRepository(connection).purge_expired(now, batch)
        removed += count
        if count < batch:
            return removed
