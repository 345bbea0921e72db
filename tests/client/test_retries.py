"""Retries that never apply a write twice, against a real gunicorn on both databases.

A proxy between the client and the service loses answers after the service has committed
(the client sees its connection closed) or answers 503 itself; the client retries with the
call's one Idempotency-Key, and the rows show the write applied once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from feature_gateway_client import Client, ConnectionFailed, RetryPolicy, ServiceUnavailable
from tests.client.support import Proxy, Service
from tests.live_server import free_port

QUICK = RetryPolicy(deadline_s=20, timeout_s=10, base_delay_s=0.05, max_delay_s=0.5)
HISTORY = (
    "SELECT a.trigger FROM feature_audit a JOIN features f ON f.id = a.feature_id"
    " WHERE f.feature_name = :n ORDER BY a.id"
)
CHANGES = (
    "SELECT c.action FROM feature_changes c JOIN features f ON f.id = c.feature_id"
    " WHERE f.feature_name = :n ORDER BY c.id"
)


@pytest.fixture
def proxy(service: Service) -> Iterator[Proxy]:
    front = Proxy(service.live.port)
    yield front
    front.close()


def _client(url: str, retry: RetryPolicy = QUICK) -> Client:
    return Client(url, role="developer", actor="dev", retry=retry)


def _create(client: Client, name: str) -> None:
    client.create_feature_metadata(feature_name=name, feature_type="batch",
                                   feature_data_type="integer", query="SELECT a FROM t",
                                   description="retried")  # fmt: skip


def test_a_create_whose_answer_is_lost_is_retried_and_applied_once(service, proxy):
    name = "client_retry:create:1"
    proxy.plan = ["lose"]
    _create(_client(proxy.url), name)  # no AlreadyExists: the retry was a replay
    assert proxy.handled[:2] == ["lose", "forward"]
    assert service.rows(HISTORY, n=name) == [("create",)]
    assert service.rows(CHANGES, n=name) == [("create",)]


def test_a_transition_whose_answer_is_lost_is_retried_and_applied_once(service, proxy):
    name = "client_retry:submit:1"
    client = _client(proxy.url)
    _create(client, name)
    proxy.plan = ["lose", "lose"]
    submitted = client.ready_test_feature_metadata(feature_name=name, if_match=1)
    assert (submitted.new_status, submitted.metadata.revision) == ("READY_FOR_TESTING", 2)
    assert proxy.handled[-3:] == ["lose", "lose", "forward"]
    assert service.rows(HISTORY, n=name) == [("create",), ("submit",)]
    assert service.rows(CHANGES, n=name) == [("create",), ("submit",)]


def test_503_is_retried_until_the_service_answers(service, proxy):
    name = "client_retry:unavailable:1"
    proxy.plan = ["unavailable", "unavailable"]
    _create(_client(proxy.url), name)
    assert proxy.handled[:3] == ["unavailable", "unavailable", "forward"]
    assert service.rows(HISTORY, n=name) == [("create",)]


def test_503_past_the_deadline_is_service_unavailable_and_nothing_is_written(service, proxy):
    proxy.plan = ["unavailable"] * 1000
    short = RetryPolicy(deadline_s=1, base_delay_s=0.05, max_delay_s=0.2)
    with pytest.raises(ServiceUnavailable) as raised:
        _create(_client(proxy.url, short), "client_retry:never:1")
    assert (raised.value.status, raised.value.detail) == (503, "Down for a moment, try again.")
    assert len(proxy.handled) > 2
    assert service.rows(HISTORY, n="client_retry:never:1") == []


def test_no_service_at_all_is_connection_failed_at_the_deadline() -> None:
    short = RetryPolicy(deadline_s=0.5, base_delay_s=0.05, max_delay_s=0.1)
    with pytest.raises(ConnectionFailed):
        _client(f"http://127.0.0.1:{free_port()}", short).health()


def test_a_retry_while_the_first_attempt_still_runs_waits_for_its_answer(service, caplog):
    """The first attempt is held on a row lock past the client's timeout; its retries are
    answered 409 "in flight" until it commits, then its stored answer is replayed."""
    if service.fresh.backend != "postgresql":
        pytest.skip("SQLite's one writer would hold the key's claim too, not only the row")
    name = "client_retry:in_flight:1"
    client = _client(service.url, RetryPolicy(deadline_s=30, timeout_s=1, base_delay_s=0.2))
    _create(client, name)
    engine = create_engine(service.fresh.url)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        with engine.begin() as connection:
            connection.execute(text("SELECT 1 FROM features WHERE feature_name = :n FOR UPDATE"),
                               {"n": name})  # fmt: skip
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert locked.wait(10)
    threading.Timer(4, release.set).start()
    try:
        with caplog.at_level(logging.INFO, logger="feature_gateway_client"):
            submitted = client.ready_test_feature_metadata(feature_name=name)
    finally:
        release.set()
        holder.join()
        engine.dispose()
    assert submitted.metadata.revision == 2
    assert any("409 Request In Flight" in record.getMessage() for record in caplog.records)
    assert service.rows(HISTORY, n=name) == [("create",), ("submit",)]
