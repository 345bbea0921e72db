"""Events and webhooks (SPEC §9): feed throughput, delivery throughput with one and two
workers, what the change-log lock and the outbox add to a write, and API latency with a
slow receiver.

Run: ``.venv/bin/python -m bench.webhooks [--backend postgresql|sqlite] [--quick]``
(PostgreSQL at TEST_PG_HOST, default 127.0.0.1:5432, user postgres; a fresh database is
made and dropped). Everything runs in one go, so the figures are comparable:

1. events/s through ``GET /events`` (limit 1000, following next_cursor) from ``gunicorn -w 2``;
2. deliveries/s to a local receiver (answers 200 at once) with one, then two workers;
3. the median time of one status-changing write (``POST /update_feature_metadata``,
   in process, sequential) without the change-log lock, with it, and with it plus three
   active webhooks (each write queues three deliveries); and the throughput of 8 threads
   doing the same, with and without the lock (the lock serialises commits);
4. API write latency (p50/p99 of sequential updates through gunicorn) while one worker
   delivers to a fast receiver, then to a slow one (sleeping past ``WEBHOOK_TIMEOUT_S``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.common import ROOT, Gunicorn, load_average, percentile
from feature_gateway import create_app
from feature_gateway.config import Settings
from feature_gateway.db import catalog_repositories
from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.services import webhooks
from tests.conftest import SEED_FEATURE, migrate
from tests.databases import FreshDatabase, postgres_reachable
from tests.webhook_receiver import receiving

DEV = {"user_role": "developer", "last_updated_by": "dev"}


def _post(url: str, path: str, body: dict[str, Any]) -> tuple[int, float]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        return response.status, time.perf_counter() - started


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def seed_changes(database: Database, count: int) -> None:
    """One feature and ``count`` change-log entries for it, inserted directly (fast)."""
    app = create_app({"database": database})
    client = app.test_client()
    body = {**SEED_FEATURE, "feature_name": "bench_feed:seed:1"}
    assert client.post("/create_feature_metadata", json=body).status_code == 201
    with database.bind.begin() as connection:  # type: ignore[union-attr]
        connection.execute(
            text(
                "INSERT INTO feature_changes (feature_id, feature_name, revision, action, actor,"
                " actor_role, authenticated, timestamp, previous_status, new_status, fields)"
                " SELECT id, feature_name, :revision, 'update', 'dev', 'developer', false, :ts,"
                " 'DRAFT', 'DRAFT', :fields FROM features WHERE feature_name = 'bench_feed:seed:1'"
            ),
            [{"revision": i + 2, "ts": 1_751_429_485_000 + i,
              "fields": '{"description": {"from": "a", "to": "b"}}'} for i in range(count)],
        )  # fmt: skip


def feed_throughput(url: str) -> tuple[int, float]:
    cursor, seen, started = None, 0, time.perf_counter()
    while True:
        after = f"&after={cursor}" if cursor else ""
        page = _get(f"{url}/events?user_role=developer&limit=1000{after}")
        seen += len(page["events"])
        cursor = page["next_cursor"]
        if not page["events"]:
            return seen, seen / (time.perf_counter() - started)


def _worker(db_url: str, log: Path, timeout_s: float = 10) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT / "src"),
           "WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_POLL_INTERVAL_S": "0.05",
           "WEBHOOK_TIMEOUT_S": str(timeout_s), "WEBHOOK_RETRY_BASE_S": "60",
           "LOG_LEVEL": "WARNING"}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-c", "from feature_gateway.cli import main; main()", "webhooks",
         "deliver"], cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _pending(database: Database) -> int:
    return webhooks.delivery_stats(database).pending


def delivery_throughput(
    database: Database, db_url: str, workers: int, deliveries: int, tmp: Path
) -> float:
    with receiving() as receiver:
        created = webhooks.create_webhook(
            database, url=receiver.url, event_types=["*"], created_by="bench",
            allow_loopback=True,
        )  # fmt: skip
        with database.bind.begin() as connection:  # type: ignore[union-attr]
            connection.execute(
                text(
                    "INSERT INTO webhook_deliveries (webhook_id, change_id, event_type, state,"
                    " attempts, next_attempt_time, created_time)"
                    " SELECT :webhook, id, 'feature.update', 'pending', 0, 0, 0"
                    " FROM feature_changes ORDER BY id LIMIT :n"
                ),
                {"webhook": created.webhook.webhook_id, "n": deliveries},
            )
        processes = [_worker(db_url, tmp / f"worker-{workers}-{i}.log") for i in range(workers)]
        try:
            receiver.wait_for(1, timeout_s=60)  # the workers have started
            started, first = time.perf_counter(), len(receiver.received)
            while _pending(database) > 0:
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            sent = len(receiver.received) - first
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
        webhooks.delete_webhook(database, created.webhook.webhook_id)
    return sent / elapsed


@contextmanager
def _without_log_lock() -> Iterator[None]:
    original = catalog_repositories.ChangeLogRepository.lock_for_append
    catalog_repositories.ChangeLogRepository.lock_for_append = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        catalog_repositories.ChangeLogRepository.lock_for_append = original  # type: ignore[method-assign]


def write_cost(database: Database, rounds: int) -> dict[str, float]:
    """Median ms of one update, in process: no lock; lock; lock and three webhooks."""
    client = create_app({"database": database}).test_client()
    name = "bench_cost:f:1"
    assert client.post("/create_feature_metadata",
                       json={**SEED_FEATURE, "feature_name": name}).status_code == 201  # fmt: skip

    def median_ms() -> float:
        samples = []
        for i in range(rounds):
            body = {"feature_name": name, "description": f"d{i} {time.time()}", **DEV}
            started = time.perf_counter()
            assert client.post("/update_feature_metadata", json=body).status_code == 200
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    figures = {}
    with _without_log_lock():
        figures["no lock, no webhooks"] = median_ms()
    figures["lock, no webhooks"] = median_ms()
    hooks = [webhooks.create_webhook(database, url=f"https://hooks.example.com/{i}",
                                     event_types=["*"], created_by="bench", allow_loopback=False)
             for i in range(3)]  # fmt: skip
    figures["lock, 3 webhooks (3 deliveries per write)"] = median_ms()
    for hook in hooks:
        webhooks.delete_webhook(database, hook.webhook.webhook_id)
    return figures


def concurrent_writes(database: Database, threads: int, per_thread: int) -> float:
    """Updates per second from ``threads`` threads, each on its own feature."""
    app = create_app({"database": database})
    names = [f"bench_conc:f{i}_{time.time_ns()}:1" for i in range(threads)]
    for name in names:
        body = {**SEED_FEATURE, "feature_name": name}
        assert app.test_client().post("/create_feature_metadata", json=body).status_code == 201

    def work(name: str) -> None:
        client = app.test_client()
        for i in range(per_thread):
            body = {"feature_name": name, "description": f"c{i}", **DEV}
            assert client.post("/update_feature_metadata", json=body).status_code == 200

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, names))
    return threads * per_thread / (time.perf_counter() - started)


def latency_with_receiver(
    database: Database, url: str, db_url: str, slow: bool, rounds: int, tmp: Path
) -> tuple[float, float, int]:
    """p50/p99 ms of updates through gunicorn while a worker delivers each one."""
    name = f"bench_lat:{'slow' if slow else 'fast'}:1"
    _post(url, "/create_feature_metadata", {**SEED_FEATURE, "feature_name": name})
    with receiving() as receiver:
        receiver.default = (200, 2.0 if slow else 0.0)
        created = webhooks.create_webhook(
            database, url=receiver.url, event_types=["feature.update"], created_by="bench",
            allow_loopback=True,
        )  # fmt: skip
        worker = _worker(db_url, tmp / f"latency-{slow}.log", timeout_s=1)
        try:
            warm_up = {"feature_name": name, "description": "warm-up", **DEV}
            _post(url, "/update_feature_metadata", warm_up)
            receiver.wait_for(1, timeout_s=60)  # the worker is up and sending
            samples = []
            for i in range(rounds):
                body = {"feature_name": name, "description": f"l{i}", **DEV}
                status, seconds = _post(url, "/update_feature_metadata", body)
                assert status == 200
                samples.append(seconds * 1000)
                time.sleep(0.02)
            attempts = len(receiver.received) - 1
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        webhooks.delete_webhook(database, created.webhook.webhook_id)
    return percentile(samples, 0.5), percentile(samples, 0.99), attempts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"],
                        default="postgresql" if postgres_reachable() else "sqlite")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    args = parser.parse_args()
    events, deliveries, rounds = (2_000, 200, 50) if args.quick else (20_000, 1_000, 200)
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    fresh = FreshDatabase(args.backend, tmp)
    migrate(fresh.url)
    engine = make_engine(Settings(database_url=fresh.url))
    database = Database(engine)
    print(f"backend {args.backend}; load average before: {load_average()}")
    try:
        seed_changes(database, events)
        server = Gunicorn("wsgi:app", {"DATABASE_URL": fresh.url, "LOG_LEVEL": "WARNING"},
                          workers=2, log=tmp / "gunicorn.log")  # fmt: skip
        try:
            seen, rate = feed_throughput(server.url)
            print(f"feed: {seen} events through GET /events (limit 1000): {rate:,.0f} events/s")
            for workers in (1, 2):
                per_s = delivery_throughput(database, fresh.url, workers, deliveries, tmp)
                print(f"deliveries: {workers} worker(s), {deliveries} to a local receiver: "
                      f"{per_s:,.0f} deliveries/s")  # fmt: skip
            for label, ms in write_cost(database, rounds).items():
                print(f"status-changing write, in process, median of {rounds}: {label}: "
                      f"{ms:.2f} ms")  # fmt: skip
            per_thread = max(rounds // 4, 10)
            with _without_log_lock():
                unlocked = concurrent_writes(database, 8, per_thread)
            locked = concurrent_writes(database, 8, per_thread)
            print(f"8 threads x {per_thread} updates, in process: {unlocked:,.0f}/s without "
                  f"the log lock, {locked:,.0f}/s with it")  # fmt: skip
            for slow in (False, True):
                p50, p99, attempts = latency_with_receiver(
                    database, server.url, fresh.url, slow, rounds, tmp
                )
                kind = "slow receiver (sleeps 2 s, timeout 1 s)" if slow else "fast receiver"
                print(f"API update latency via gunicorn -w 2, {rounds} sequential, worker "
                      f"delivering to a {kind}: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
                      f"({attempts} attempts meanwhile)")  # fmt: skip
        finally:
            server.stop()
    finally:
        engine.dispose()
        fresh.drop()
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
