"""Read counts across real processes (SPEC §13): gunicorn workers count in memory, flush
every USAGE_FLUSH_S from a thread and at a graceful exit (gunicorn.conf.py's worker_exit).

- two hosts (two gunicorn masters) of two workers each on one database: every read is
  counted once, and a graceful stop loses none (the interval is longer than the test, so
  only the exit flushes write);
- a worker killed with SIGKILL loses at most the reads of its last flush interval.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.concurrency.test_idempotency_servers import fresh  # noqa: F401  (the fixture)
from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
NAME = "usage_race:rate:1"
READ = {"features": [NAME, "usage_race:missing:1"], "entities": {"driver_id": ["D1", "D2"]}}
FEAST_READ = {"features": ["usage_race:rate"], "entities": {"driver_id": ["D1"]}}


@pytest.fixture(scope="module")
def deployed(fresh: FreshDatabase) -> Iterator[FreshDatabase]:  # noqa: F811
    server = LiveServer(fresh.url, workers=1, log_path=fresh.tmp / "setup.log")  # type: ignore[attr-defined]
    try:
        steps = [
            ("/create_feature_metadata", {**SEED_FEATURE, "feature_name": NAME}),
            ("/ready_test_feature_metadata", {"submitted_by": "dev", "user_role": "developer"}),
            ("/test_feature_metadata", {"test_result": "TEST_SUCCEEDED", "tested_by": "qa",
                                        "user_role": "external_testing_system"}),
            ("/approve_feature_metadata", {"approved_by": "boss", "user_role": "approver"}),
        ]  # fmt: skip
        for path, body in steps:
            status, answer = server.request("POST", path, {"feature_name": NAME, **body})
            assert status in (200, 201), answer
    finally:
        server.stop()
    yield fresh


def stored_reads(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            total = connection.execute(
                text("SELECT coalesce(sum(reads), 0) FROM feature_usage WHERE feature_name = :n"),
                {"n": NAME},
            ).scalar_one()
            connection.execute(text("DELETE FROM feature_usage"))
            connection.commit()
            return int(total)
    finally:
        engine.dispose()


def _read_many(server: LiveServer, n: int) -> int:
    """``n`` reads, alternating the two serving endpoints; returns those answered 200."""
    ok = 0
    for i in range(n):
        path, body = ("/features", READ) if i % 2 else ("/get-online-features", FEAST_READ)
        ok += server.raw_request("POST", path, body)[0] == 200
    return ok


def test_reads_on_two_hosts_of_two_workers_add_up_and_a_graceful_stop_loses_none(
    deployed: FreshDatabase, tmp_path: Path
) -> None:
    stored_reads(deployed.url)  # from zero
    env = {"USAGE_FLUSH_S": "600"}  # no timed flush: what is stored comes from the exits
    hosts = [
        LiveServer(deployed.url, workers=2, log_path=tmp_path / f"host{i}.log", extra_env=env)
        for i in range(2)
    ]
    served: list[int] = []
    try:
        # Four clients at once on each host keep both of its workers busy.
        threads = [
            threading.Thread(target=lambda h=host: served.append(_read_many(h, 40)))
            for host in hosts
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert stored_reads(deployed.url) == 0  # nothing flushed while they ran
    finally:
        for host in hosts:
            host.stop()  # SIGTERM: each worker flushes on its way out

    assert sum(served) == 8 * 40
    assert stored_reads(deployed.url) == sum(served)


def _worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def test_a_killed_worker_loses_at_most_its_last_flush_interval(
    deployed: FreshDatabase, tmp_path: Path
) -> None:
    interval_s = 2.0
    stored_reads(deployed.url)
    server = LiveServer(
        deployed.url, workers=1, log_path=tmp_path / "kill.log",
        extra_env={"USAGE_FLUSH_S": str(interval_s)},
    )  # fmt: skip
    sent: list[float] = []  # when each answered read was sent
    try:
        [worker] = _worker_pids(server.process.pid)
        deadline = time.monotonic() + 3.5 * interval_s
        while time.monotonic() < deadline:
            started = time.monotonic()
            if server.raw_request("POST", "/features", READ)[0] == 200:
                sent.append(started)
            time.sleep(0.01)
        killed_at = time.monotonic()
        os.kill(worker, signal.SIGKILL)
    finally:
        server.stop()

    stored = stored_reads(deployed.url)
    lost = len(sent) - stored
    in_last_interval = sum(t > killed_at - interval_s - 0.5 for t in sent)
    rate = len(sent) / (sent[-1] - sent[0])
    print(
        f"\nSIGKILL with USAGE_FLUSH_S={interval_s}: {len(sent)} reads answered, {stored} "
        f"stored, {lost} lost = {lost / rate:.2f} s of reads at {rate:.0f}/s"
    )
    assert stored > 0  # the timed flushes wrote
    assert 0 <= lost <= in_last_interval
