"""The keyed-write use case (``services.idempotency.keyed_write``, SPEC §11) without HTTP:
claim, the use case in the request's transaction, its answer stored, one commit."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from feature_gateway.db.scopes import Database
from feature_gateway.domain.idempotency import RequestIdentity
from feature_gateway.errors import FeatureNotFoundError, IdempotencyClaimLostError
from feature_gateway.services import features
from feature_gateway.services.idempotency import Policy, StoredResponse, keyed_write
from tests.conftest import SEED_FEATURE

NEW = {k: v for k, v in SEED_FEATURE.items() if k != "user_role"}
NAME = NEW["feature_name"]
REQUEST = RequestIdentity(
    scope="", key="k-1", method="POST", path="/create_feature_metadata", fingerprint="f" * 64
)
POLICY = Policy(ttl_ms=60_000, lease_ms=10_000)


def clock() -> int:
    return 1_000


def answered(status: int):
    """A use case creating the feature and answering ``status``; the Databases it was run
    on, in ``ran``."""
    ran: list[Database] = []

    def use_case(db: Database) -> StoredResponse:
        ran.append(db)
        features.create_feature(db, NEW, role="developer")
        return StoredResponse(status, {"ETag": '"1"'}, b"created")

    return use_case, ran


def keys(connection) -> list[tuple]:
    return [tuple(row) for row in connection.execute(
        text("SELECT idempotency_key, response_status FROM idempotency_keys")
    )]  # fmt: skip


def test_a_keyed_write_runs_its_use_case_once_and_answers_a_repeat_with_what_it_stored(
    database, connection
):
    use_case, ran = answered(201)
    first = keyed_write(database, REQUEST, POLICY, clock, use_case, lambda answer: answer)
    again = keyed_write(database, REQUEST, POLICY, clock, use_case, lambda answer: answer)
    assert first == again == StoredResponse(201, {"ETag": '"1"'}, b"created")
    assert len(ran) == 1 and ran[0] is not database  # the request transaction's Database
    assert features.get_feature(database, NAME)["revision"] == 1
    assert keys(connection) == [("k-1", 201)]


def test_a_keyed_write_answered_with_a_server_error_keeps_no_change_and_frees_its_key(
    database, connection
):
    use_case, _ = answered(503)
    answer = keyed_write(database, REQUEST, POLICY, clock, use_case, lambda answer: answer)
    assert answer.status == 503
    with pytest.raises(FeatureNotFoundError):
        features.get_feature(database, NAME)
    assert keys(connection) == []  # a retry may use the key at once


def test_a_keyed_write_whose_claim_was_taken_over_keeps_neither_its_change_nor_its_answer(
    database, connection
):
    use_case, _ = answered(201)

    def outlived_its_lease(db: Database) -> StoredResponse:
        answer = use_case(db)
        # Another request took the key over meanwhile (as after the lease ran out).
        connection.execute(text("UPDATE idempotency_keys SET claim_token = 'another'"))
        return answer

    with pytest.raises(IdempotencyClaimLostError):
        keyed_write(database, REQUEST, POLICY, clock, outlived_its_lease, lambda answer: answer)
    with pytest.raises(FeatureNotFoundError):
        features.get_feature(database, NAME)


def test_a_purge_deletes_no_more_than_its_batch_even_of_keys_expired_at_the_same_time(
    database, connection
):
    """The oldest first, ``batch`` at most, however many share the oldest expiry."""
    stored = StoredResponse(201, {}, b"")
    for i in range(3):
        request = RequestIdentity("", f"old-{i}", "POST", "/x", "f" * 64)
        keyed_write(database, request, POLICY, clock, lambda db: 201, lambda _: stored)
    connection.execute(text("UPDATE idempotency_keys SET expires_time = 5"))
    with database.writing() as uow:
        assert uow.idempotency_keys.purge_expired(now=10, limit=2) == 2
        uow.commit()
    assert len(keys(connection)) == 1
    with database.writing() as uow:
        assert uow.idempotency_keys.purge_expired(now=10, limit=2) == 1
        uow.commit()
    assert keys(connection) == []
