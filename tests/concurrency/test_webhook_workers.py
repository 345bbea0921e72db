"""Delivery workers as real processes (``feature-gateway webhooks deliver``): a worker
killed with SIGKILL mid-attempt loses only its lease, and a restarted worker delivers the
event (at least once); two workers at once never send one attempt twice; SIGTERM lets the
attempt in flight finish and be recorded."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feature_gateway import create_app
from feature_gateway.api.context import EXTENSION
from feature_gateway.config import PROJECT_ROOT
from feature_gateway.db.engine import make_engine
from feature_gateway.db.unit_of_work import Database
from feature_gateway.services import webhooks
from tests.conftest import SEED_FEATURE, migrate
from tests.databases import BACKENDS, FreshDatabase, require_backend, settings_for
from tests.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.slow
SUBMIT = {"submitted_by": "dev", "user_role": "developer"}


class Setup:
    def __init__(self, url: str, receiver: Receiver, tmp_path: Path) -> None:
        self.url, self.receiver, self.tmp_path = url, receiver, tmp_path
        self.engine = make_engine(settings_for(url))
        self.database = Database(self.engine)
        self.app = create_app({"database_url": url})
        self.client = self.app.test_client()
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs: list[Any] = []

    def subscribe(self, path: str = "/hook") -> str:
        created = webhooks.create_webhook(
            self.database, url=self.receiver.url + path, event_types=["*"], created_by="root",
            allow_loopback=True,
        )  # fmt: skip
        return created.webhook.webhook_id

    def make_features(self, count: int, prefix: str = "w") -> None:
        for n in range(count):
            name = f"hooks_{prefix}:f{n}:1"
            body = {**SEED_FEATURE, "feature_name": name}
            assert self.client.post("/create_feature_metadata", json=body).status_code == 201
            response = self.client.post(
                "/ready_test_feature_metadata", json={"feature_name": name, **SUBMIT}
            )
            assert response.status_code == 200

    def start_worker(self, timeout_s: float = 2) -> subprocess.Popen[bytes]:
        env = {
            **os.environ, "DATABASE_URL": self.url, "PYTHONPATH": str(PROJECT_ROOT / "src"),
            "WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_TIMEOUT_S": str(timeout_s),
            "WEBHOOK_POLL_INTERVAL_S": "0.05", "LOG_LEVEL": "INFO",
        }  # fmt: skip
        log = (self.tmp_path / f"worker{len(self.workers)}.log").open("wb")
        self.logs.append(log)
        worker = subprocess.Popen(
            [sys.executable, "-c", "from feature_gateway.cli import main; main()",
             "webhooks", "deliver"],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def states(self, webhook_id: str) -> list[tuple[str, int]]:
        page = webhooks.list_deliveries(
            self.database, webhook_id, state=None, limit=1000, offset=0
        )
        return [(d.state, d.attempts) for d in page.deliveries]

    def wait_delivered(self, webhook_id: str, count: int, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            states = self.states(webhook_id)
            if len(states) == count and all(s == "delivered" for s, _ in states):
                return
            if time.monotonic() > deadline:
                raise AssertionError(collections.Counter(s for s, _ in states))
            time.sleep(0.1)

    def close(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
        for log in self.logs:
            log.close()
        self.engine.dispose()
        self.app.extensions[EXTENSION].database.bind.dispose()


@pytest.fixture(params=BACKENDS)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    require_backend(request.param)
    fresh = FreshDatabase(request.param, tmp_path)
    migrate(fresh.url)
    with receiving() as receiver:
        made = Setup(fresh.url, receiver, tmp_path)
        try:
            yield made
        finally:
            made.close()
            fresh.drop()


def test_a_worker_killed_mid_attempt_is_replaced_and_the_event_still_delivered(
    setup: Setup,
) -> None:
    webhook_id = setup.subscribe()
    setup.make_features(1)  # two events
    setup.receiver.answers = [(200, 4.0)]  # the first attempt hangs until the kill
    first = setup.start_worker(timeout_s=1)  # killed well within it (the kill takes ms)
    setup.receiver.wait_for(1)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_id = setup.receiver.ids()[0]
    setup.start_worker(timeout_s=1)
    setup.wait_delivered(webhook_id, 2)  # after the dead worker's lease (3 s) expired
    ids = setup.receiver.ids()
    assert ids.count(killed_id) == 2  # at least once: the receiver deduplicates
    assert sorted(attempts for _, attempts in setup.states(webhook_id)) == [1, 2]


def test_two_workers_at_once_never_send_one_attempt_twice(setup: Setup) -> None:
    hooks = [setup.subscribe("/a"), setup.subscribe("/b")]
    setup.make_features(10)  # 20 events, 40 deliveries
    setup.receiver.default = (200, 0.01)
    setup.start_worker()
    setup.start_worker()
    for webhook_id in hooks:
        setup.wait_delivered(webhook_id, 20)
    time.sleep(0.3)  # anything sent twice would have arrived by now
    sent = [(r.path, r.headers["webhook-id"]) for r in setup.receiver.received]
    assert len(sent) == 40 and len(set(sent)) == 40
    for webhook_id in hooks:
        assert {attempts for _, attempts in setup.states(webhook_id)} == {1}
    for worker in setup.workers:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    busy = [
        p.read_text().count('"outcome":"delivered"') for p in setup.tmp_path.glob("worker*.log")
    ]
    assert sum(busy) == 40


def test_sigterm_finishes_and_records_the_attempt_in_flight(setup: Setup) -> None:
    webhook_id = setup.subscribe()
    setup.make_features(1)
    setup.receiver.answers = [(200, 1.0)]
    worker = setup.start_worker(timeout_s=3)
    setup.receiver.wait_for(1)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    states = setup.states(webhook_id)
    assert ("delivered", 1) in states
    assert len(setup.receiver.received) == 1  # it stopped after the attempt in flight
