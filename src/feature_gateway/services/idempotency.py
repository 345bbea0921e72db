"""Keyed writes (SPEC §11): a request sent with an ``Idempotency-Key`` runs once, and its
answer is replayed to every repeat.

``keyed_write`` is the whole use case; the HTTP layer (``api.idempotency``) only turns the
request into its identity and the view's response into what is stored, and back. The
database decides, never process memory, so the rules hold across workers and hosts:

- ``claim`` reads the key's row and claims it (``KeyedWrite.claims``: one autocommit
  statement each, no session, on the connection the write then uses). None (or expired):
  a claim is inserted, committed by itself, before the write starts, so that a repeat sees
  it in flight; of two requests inserting the same key, the primary key lets one through.
  A completed row answers with its stored response (the same request) or 422 (another
  request). An
  in-flight row answers 409, unless its lease ran out (its request crashed or was killed):
  then a conditional UPDATE takes it over.
- The use case then runs in the request's transaction (``Database.keyed_write``), which
  also stores its response, only if the claim is still this request's: a request that
  outlived its lease and was taken over is rolled back (409), so a key never applies two
  changes. Its commit is ``KeyedWrite.commit``: the change, its change log and outbox
  (written as the use case's units of work commit their savepoints) and its stored
  response commit together; then the status changes are published.
- A server error (5xx) is not stored: rolled back, and the key freed for a retry at once.
- Expired rows are deleted, a bounded batch at a time, by each keyed write's transaction
  as it stores its response (no cron needed), and by ``purge`` (``feature-gateway
  idempotency purge``).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from feature_gateway.db.idempotency import IdempotencyRepository, KeyRow
from feature_gateway.db.scopes import Database, KeyedWrite
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
T = TypeVar("T")


# Named tuples, not frozen dataclasses (whose fields are each set through
# ``object.__setattr__``): a keyed write makes several (docs/performance.md, "i28-keyed").
class Policy(NamedTuple):
    ttl_ms: int  # how long a response is kept
    lease_ms: int  # how long an unfinished claim holds its key against a retry


class StoredResponse(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


class Claim(NamedTuple):
    request: RequestIdentity
    token: str


class _Lost(Exception):
    """The row changed between reading it and claiming it."""


def keyed_write(
    database: Database,
    request: RequestIdentity,
    policy: Policy,
    clock: Callable[[], int],
    use_case: Callable[[Database], T],
    kept: Callable[[T], StoredResponse],
) -> T | StoredResponse:
    """Run ``use_case`` once for ``request``'s key, or answer with what its first request
    stored (see the module).

    ``use_case`` is handed the Database of the request's transaction and returns the
    answer; ``kept`` says what is stored of it for repeats. Returns that answer, or the
    stored response of a repeat.
    """
    claimed: Claim | None = None
    try:
        with database.keyed_write() as transaction:  # one connection: the claim, then the write
            found = claim(transaction.claims, request, policy, clock())
            if isinstance(found, StoredResponse):
                return found
            claimed = found
            answer = use_case(transaction.database)  # the write's transaction begins
            stored = kept(answer)
            if stored.status < 500:
                _store(transaction, claimed, stored, policy, clock())
                transaction.commit()
                return answer
    except Exception:
        # Not stored (the database failed, or the claim was taken over): rolled back. The
        # release only deletes a claim that is still this request's.
        if claimed is not None:
            release(database, claimed)
        raise
    # A failure: its change was rolled back; free the key for a retry now, not after the lease.
    if claimed is not None:  # always: only a claimed request gets here
        release(database, claimed)
    return answer


def claim(
    keys: IdempotencyRepository, request: RequestIdentity, policy: Policy, now: int
) -> Claim | StoredResponse:
    """Claim ``request``'s key, or answer with the stored response of its first request.
    ``keys`` runs each statement in a transaction of its own (``KeyedWrite.claims``)."""
    try:
        return _claim(keys, request, policy, now)
    except _Lost:
        # Another request claimed the key between our read and our write: read it again.
        try:
            return _claim(keys, request, policy, now)
        except _Lost:
            raise RequestInFlightError(request.key, RETRY_AFTER_S) from None


def _claim(
    keys: IdempotencyRepository, request: RequestIdentity, policy: Policy, now: int
) -> Claim | StoredResponse:
    token = secrets.token_hex(16)
    values: dict[str, Any] = {
        "fingerprint": request.fingerprint,
        "method": request.method,
        "path": request.path,
        "claim_token": token,
        "claimed_time": now,
        "expires_time": now + policy.ttl_ms,
    }
    new = {"scope": request.scope, "idempotency_key": request.key, **values}
    if keys.inserts_first and keys.add_claim(new):  # a new key: one statement
        return Claim(request, token)
    row = keys.get(request.scope, request.key)  # no write lock, on SQLite either
    if row is not None and row.expires_time > now:
        stored = _answer_for(row, request, policy, now)
        if stored is not None:
            return stored
    if row is None:
        claimed = keys.add_claim(new)
    elif row.expires_time <= now:
        claimed = keys.replace_claim(request.scope, request.key, values, if_expired_at=now)
    else:
        claimed = keys.replace_claim(request.scope, request.key, values, if_token=row.claim_token)
    if not claimed:
        raise _Lost()
    return Claim(request, token)


def _answer_for(
    row: KeyRow, request: RequestIdentity, policy: Policy, now: int
) -> StoredResponse | None:
    """The stored response for a live row; None when its lease ran out (take it over)."""
    if row.fingerprint != request.fingerprint:
        same_path = (row.method, row.path) == (request.method, request.path)
        raise IdempotencyKeyReusedError(request.key, row.method, row.path, same_path)
    if row.completed_time is not None:
        return StoredResponse(
            row.response_status,  # type: ignore[arg-type]  # a completed row has them all
            dict(row.response_headers or {}),
            row.response_body,  # type: ignore[arg-type]
        )
    if row.claimed_time + policy.lease_ms > now:
        raise RequestInFlightError(request.key, RETRY_AFTER_S)
    return None


def _store(
    transaction: KeyedWrite,
    claimed: Claim,
    response: StoredResponse,
    policy: Policy,
    now: int,
) -> None:
    """Store ``response`` for the claimed key in the request's transaction (not committed:
    the caller commits the change and its response together), and delete a batch of
    expired keys in the same transaction (which holds the write lock already).

    Never this request's own key: its claim may have expired while its use case ran (a TTL
    shorter than the request), and the purge would take it (``complete`` purges after
    completing it, or leaves it out)."""
    stored = transaction.idempotency_keys.complete(
        claimed.request.scope,
        claimed.request.key,
        claimed.token,
        now=now,
        expires_time=now + policy.ttl_ms,
        status=response.status,
        headers=response.headers,
        body=response.body,
        purge=PURGE_BATCH,
    )
    if not stored:
        raise IdempotencyClaimLostError(claimed.request.key)


def release(database: Database, claimed: Claim) -> None:
    """Free the key of a request that failed (5xx), so that a retry is not held back by
    the lease. Best effort: when the database is gone, the lease frees it later."""
    with contextlib.suppress(DatabaseUnavailableError), database.claiming() as claims:
        claims.keys.release(claimed.request.scope, claimed.request.key, claimed.token)


def purge(database: Database, now: int, batch: int = 1_000) -> int:
    """Delete every expired key, one bounded transaction at a time; returns how many."""
    removed = 0
    while True:
        with database.writing() as uow:
            count = uow.idempotency_keys.purge_expired(now, batch)
            uow.commit()
        removed += count
        if count < batch:
            return removed
