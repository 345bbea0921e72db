"""SQLite's writers queue on ``<database>-writers`` (db.sqlite_writers), against a real
gunicorn: a write waits while another process holds the queue's lock and goes on when it
is let go, a write that cannot get it within the busy timeout is a 503 that changed nothing,
and no request of any outcome leaves the lock held."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from feature_gateway.db.sqlite_writers import LOCK_SUFFIX
from tests.conftest import SEED_FEATURE
from tests.databases import FreshDatabase
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow
BUSY_TIMEOUT_MS = 1_000


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path]]:
    tmp = tmp_path_factory.mktemp("sqlite-writers")
    fresh = FreshDatabase("sqlite", tmp, migrated=True)
    live = LiveServer(
        fresh.url,
        workers=2,
        log_path=tmp / "gunicorn.log",
        extra_env={"SQLITE_BUSY_TIMEOUT_MS": str(BUSY_TIMEOUT_MS)},
    )
    yield live, Path(fresh.url.removeprefix("sqlite:///") + LOCK_SUFFIX)
    live.stop()
    fresh.drop()


class HeldElsewhere:
    """The queue's lock taken by another process (as another worker's write would hold it)
    until ``release``."""

    def __init__(self, lock_path: Path) -> None:
        holder = (
            "import fcntl, sys\n"
            f"lock = open({str(lock_path)!r}, 'a')\n"
            "fcntl.flock(lock, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "sys.stdin.readline()\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", holder],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdout.readline() == "held\n"

    def release(self) -> None:
        self.process.communicate("\n", timeout=10)  # closes both pipes


def create(server: LiveServer, name: str) -> int:
    status, _ = server.request(
        "POST", "/create_feature_metadata", {**SEED_FEATURE, "feature_name": name}
    )
    return status


def lock_is_free(lock_path: Path) -> bool:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_write_waits_for_the_writer_ahead_of_it_and_then_goes_on(sqlite_server) -> None:
    server, lock_path = sqlite_server
    holder = HeldElsewhere(lock_path)
    result: dict[str, int] = {}
    writer = threading.Thread(target=lambda: result.update(status=create(server, "w:queued:1")))
    writer.start()
    time.sleep(0.5)  # half the busy timeout
    assert writer.is_alive(), "the write did not wait for the writer ahead of it"
    holder.release()
    writer.join(timeout=30)
    assert result == {"status": 201}
    assert server.request("GET", "/get_feature_metadata/w:queued:1?user_role=developer")[0] == 200


def test_a_write_that_cannot_queue_within_the_busy_timeout_is_a_503_that_changed_nothing(
    sqlite_server,
) -> None:
    server, lock_path = sqlite_server
    holder = HeldElsewhere(lock_path)
    try:
        started = time.monotonic()
        status = create(server, "w:never:1")
        waited = time.monotonic() - started
    finally:
        holder.release()
    assert status == 503
    assert BUSY_TIMEOUT_MS / 1000 <= waited < BUSY_TIMEOUT_MS / 1000 + 5
    assert server.request("GET", "/get_feature_metadata/w:never:1?user_role=developer")[0] == 404
    assert create(server, "w:never:1") == 201  # the queue is free again


def test_no_outcome_of_a_write_leaves_the_queue_held(sqlite_server) -> None:
    server, lock_path = sqlite_server
    assert create(server, "w:outcomes:1") == 201
    assert lock_is_free(lock_path)
    assert create(server, "w:outcomes:1") == 409  # the name is taken: rolled back
    assert lock_is_free(lock_path)
    tested = {"feature_name": "w:outcomes:1", "test_result": "TEST_SUCCEEDED", "tested_by": "qa",
              "user_role": "external_testing_system"}  # fmt: skip
    assert server.request("POST", "/test_feature_metadata", tested)[0] == 409  # from DRAFT
    assert lock_is_free(lock_path)
    submitted = {"feature_name": "w:outcomes:1", "submitted_by": "dev", "user_role": "developer"}
    assert server.request("POST", "/ready_test_feature_metadata", submitted)[0] == 200
    assert lock_is_free(lock_path)
    assert server.request("POST", "/test_feature_metadata", tested)[0] == 200
    assert lock_is_free(lock_path)
