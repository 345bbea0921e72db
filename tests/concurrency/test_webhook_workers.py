"""Delivery workers as real processes (``feature-gateway webhooks deliver``): a worker
killed with SIGKILL mid-attempt loses only its lease, and a restarted worker delivers the
event (at least once); two workers at once never send one attempt twice; SIGTERM lets the
attempt in flight finish and be recorded; no webhook URL and no receiver ends or holds a
worker (SPEC §9); its metrics listen on loopback unless told otherwise."""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feature_gateway import create_app
from feature_gateway.config import PROJECT_ROOT
from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.db.webhooks import Webhook
from feature_gateway.domain.webhooks import new_secret, new_webhook_id
from feature_gateway.services import webhooks
from feature_gateway.services.clock import now_ms
from tests.conftest import SEED_FEATURE
from tests.databases import BACKENDS, FreshDatabase, close_app, require_backend, settings_for
from tests.webhook_receiver import Answer, Receiver, receiving

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

    def insert_webhook(self, url: str) -> str:
        """A webhook row as it is stored, with no check of its URL: one created before
        the checks were what they are."""
        webhook = Webhook(
            webhook_id=new_webhook_id(), url=url, description=None, secret=new_secret(),
            created_time=now_ms(), created_by="root", active=True,
        )  # fmt: skip
        webhook.event_types = ["*"]
        with self.database.writing() as uow:
            uow.webhooks.add(webhook)
            uow.commit()
        return webhook.webhook_id

    def make_features(self, count: int, prefix: str = "w") -> None:
        for n in range(count):
            name = f"hooks_{prefix}:f{n}:1"
            body = {**SEED_FEATURE, "feature_name": name}
            assert self.client.post("/create_feature_metadata", json=body).status_code == 201
            response = self.client.post(
                "/ready_test_feature_metadata", json={"feature_name": name, **SUBMIT}
            )
            assert response.status_code == 200

    def start_worker(
        self, timeout_s: float = 2, *args: str, **env_vars: str
    ) -> subprocess.Popen[bytes]:
        env = {
            **os.environ, "DATABASE_URL": self.url, "PYTHONPATH": str(PROJECT_ROOT / "src"),
            "WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_TIMEOUT_S": str(timeout_s),
            "WEBHOOK_POLL_INTERVAL_S": "0.05", "LOG_LEVEL": "INFO", **env_vars,
        }  # fmt: skip
        log = (self.tmp_path / f"worker{len(self.workers)}.log").open("wb")
        self.logs.append(log)
        worker = subprocess.Popen(
            [sys.executable, "-c", "from feature_gateway.cli import main; main()",
             "webhooks", "deliver", *args],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def deliveries(self, webhook_id: str) -> list[Any]:
        page = webhooks.list_deliveries(
            self.database, webhook_id, state=None, limit=1000, offset=0
        )
        return list(page.deliveries)

    def states(self, webhook_id: str) -> list[tuple[str, int]]:
        return [(d.state, d.attempts) for d in self.deliveries(webhook_id)]

    def log_text(self) -> str:
        return "".join(p.read_text() for p in sorted(self.tmp_path.glob("worker*.log")))

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
        close_app(self.app)


@pytest.fixture(params=BACKENDS)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    require_backend(request.param)
    fresh = FreshDatabase(request.param, tmp_path, migrated=True)
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


# Accepted at creation before SPEC §9's one parser; each one raised out of the worker
# (httpx.InvalidURL, UnicodeError from the resolver) and ended it, again after every lease.
UNPARSABLE_URLS = [
    "http://010.0.0.1/", "http://192.168.01.1/", "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",
    "http://a..b.example/", f"http://{'a' * 64}.example/",
]  # fmt: skip


def test_a_webhook_url_the_client_cannot_parse_is_a_failed_attempt_and_the_worker_goes_on(
    setup: Setup,
) -> None:
    bad = [setup.insert_webhook(url) for url in UNPARSABLE_URLS]
    good = setup.subscribe()
    setup.make_features(1, prefix="a")  # two events for each webhook
    worker = setup.start_worker(timeout_s=1, WEBHOOK_RETRY_BASE_S="0.1")
    deadline = time.monotonic() + 30
    while any(d.attempts < 2 for hook in bad for d in setup.deliveries(hook)):
        assert worker.poll() is None, setup.log_text()[-2000:]
        assert time.monotonic() < deadline, [setup.states(hook) for hook in bad]
        time.sleep(0.1)
    setup.wait_delivered(good, 2)
    for hook in bad:  # each attempt failed, recorded with its reason, retried as usual
        for delivery in setup.deliveries(hook):
            assert delivery.state in ("pending", "failed")
            assert delivery.last_error and delivery.last_status_code is None
    setup.make_features(1, prefix="b")  # the same worker goes on delivering
    setup.wait_delivered(good, 4)
    assert worker.poll() is None
    assert "Traceback" not in setup.log_text()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0


def test_a_receiver_dripping_its_answer_is_cut_off_at_the_deadline(setup: Setup) -> None:
    webhook_id = setup.subscribe()
    setup.make_features(1)  # two events: the first one's receiver drips
    # The status line and headers a byte every 0.2 s: about 8 s in all, each pause far
    # shorter than the 1 s timeout, the whole answer far longer than the 3 s lease.
    setup.receiver.answers = [Answer(200, drip_s=0.2)]
    worker = setup.start_worker(timeout_s=1, WEBHOOK_RETRY_BASE_S="60")
    deadline = time.monotonic() + 30
    while not all(d.attempts and d.claim is None for d in setup.deliveries(webhook_id)):
        assert time.monotonic() < deadline, setup.log_text()[-2000:]
        time.sleep(0.05)
    dripped, then = sorted(setup.deliveries(webhook_id), key=lambda d: d.delivery_id)
    assert (then.state, then.attempts) == ("delivered", 1)  # and the worker went on
    assert (dripped.state, dripped.attempts) == ("pending", 1)  # a failed attempt, not delivered
    assert "timed out" in dripped.last_error and dripped.delivered_time is None
    durations = [
        json.loads(line)["duration_ms"]
        for line in setup.log_text().splitlines() if '"webhook_attempt"' in line
    ]  # fmt: skip
    assert durations and max(durations) < 1800, durations  # the 1 s deadline, not the drip
    assert worker.poll() is None


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 20
    while not _accepts("127.0.0.1", port):
        assert time.monotonic() < deadline, "the metrics port never opened"
        time.sleep(0.05)


def test_the_worker_metrics_listen_on_loopback_by_default(setup: Setup) -> None:
    # 127.0.0.2 is loopback too on Linux, but not the address 127.0.0.1: a server bound to
    # 127.0.0.1 refuses it, one bound to every address (0.0.0.0) accepts it.
    port = _free_port()
    setup.start_worker(2, "--metrics-port", str(port))
    _wait_listening(port)
    assert not _accepts("127.0.0.2", port)


def test_the_worker_metrics_listen_on_the_metrics_host_given(setup: Setup) -> None:
    port = _free_port()
    setup.start_worker(2, "--metrics-port", str(port), "--metrics-host", "0.0.0.0")
    _wait_listening(port)
    assert _accepts("127.0.0.2", port)
