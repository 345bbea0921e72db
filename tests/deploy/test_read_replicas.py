"""Reads from a real streaming replica, writes through PgBouncer (SPEC §15).

    client threads ─▶ gunicorn -w 2 ─┬─▶ PgBouncer (transaction pooling) ─▶ primary
    (this process)   gunicorn.conf.py └─▶ replica (pg_basebackup -R, streaming) ◀─┘ WAL

The test starts its own primary (initdb), a hot standby of it (``pg_basebackup -R`` and a
second ``postgres`` on another port) and Debian's ``pgbouncer`` in front of the primary;
the app is told ``DATABASE_POOLER=transaction``. Mandatory under CI=true (the PostgreSQL
server binaries and pgbouncer are installed there), skipped with the reason elsewhere.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from tests.concurrency.test_event_feed_order import (
    assert_each_seen_once_in_order,
    follow_while_writing,
)
from tests.conftest import SEED_FEATURE
from tests.deploy.support import (
    Gunicorn,
    PgBouncer,
    PrivatePostgres,
    call,
    gunicorn,
    pgbouncer,
    private_postgres,
    run_migrations,
    streaming_replica,
    wait_until,
)
from tests.metrics_text import sample_total

pytestmark = pytest.mark.slow
WORKERS = 2
MAX_LAG_S = 2.0
CHECK_S = 0.5
READ = "user_role=developer"
READS = "feature_gateway_replicable_reads_total"


@dataclass
class Topology:
    primary: PrivatePostgres
    replica: PrivatePostgres
    bouncer: PgBouncer


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with (
        private_postgres(required_in_ci=True) as primary,
        streaming_replica(primary) as replica,
        pgbouncer("127.0.0.1", primary.port) as bouncer,
    ):
        run_migrations(bouncer.url("postgres"), tmp_path_factory.mktemp("migrations"))
        yield Topology(primary, replica, bouncer)


@pytest.fixture(scope="module")
def server(topology: Topology, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    with gunicorn(
        topology.bouncer.url("postgres"),
        tmp_path_factory.mktemp("gunicorn"),
        workers=WORKERS,
        DATABASE_READ_URL=topology.replica.url,
        DATABASE_POOLER="transaction",
        READ_MAX_LAG_S=str(MAX_LAG_S),
        READ_LAG_CHECK_S=str(CHECK_S),
        LOG_LEVEL="WARNING",
    ) as running:
        wait_until(lambda: health(running)["replica"] == "ok", timeout=15, what="replica ok")
        yield running


def health(server: Gunicorn) -> dict[str, Any]:
    reply = call(server.port, "GET", "/health")
    assert reply.status == 200, reply.body
    return reply.json()  # type: ignore[no-any-return]


def served(server: Gunicorn) -> Counter[str]:
    """Replicable reads so far by where they were served: "replica", or "primary/<why>"."""
    text = call(server.port, "GET", "/metrics").body.decode()
    counts: Counter[str] = Counter()
    for reason in ("replica", "latest", "revision", "lagging", "down", "failed"):
        where = "replica" if reason == "replica" else f"primary/{reason}"
        server_label = "replica" if reason == "replica" else "primary"
        counts[where] = int(sample_total(text, READS, server=server_label, reason=reason))
    return counts


def transactions_on(postgres: PrivatePostgres) -> int:
    with psycopg.connect(postgres.url.replace("+psycopg", ""), autocommit=True) as connection:
        row = connection.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def on_replica(topology: Topology, sql: str) -> None:
    with psycopg.connect(topology.replica.url.replace("+psycopg", ""), autocommit=True) as c:
        c.execute(sql)


def create(server: Gunicorn, name: str) -> None:
    reply = call(server.port, "POST", "/create_feature_metadata",
                 {**SEED_FEATURE, "feature_name": name})  # fmt: skip
    assert reply.status == 201, reply.body


def describe(server: Gunicorn, name: str, text: str) -> str:
    """Update the description; the ETag of the write."""
    reply = call(server.port, "POST", "/update_feature_metadata",
                 {"feature_name": name, "description": text, "last_updated_by": "dev",
                  "user_role": "developer"})  # fmt: skip
    assert reply.status == 200, reply.body
    return reply.headers["ETag"]


def readable(server: Gunicorn, name: str) -> Callable[[], bool]:
    """Whether a read of ``name`` finds it (the replica may not have it yet)."""
    return lambda: call(server.port, "GET", f"/get_feature_metadata/{name}?{READ}").status == 200


def description(server: Gunicorn, name: str, **headers: str) -> str:
    reply = call(server.port, "GET", f"/get_feature_metadata/{name}?{READ}", headers=headers)
    assert reply.status == 200, reply.body
    return str(reply.json()["metadata"]["description"])


class Load:
    """Client threads, each writing its own feature and reading it, a list and the feed."""

    def __init__(self, server: Gunicorn, names: list[str]) -> None:
        self.server, self.names = server, names
        self.statuses: Counter[int] = Counter()
        self.reads = self.writes = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(len(names))

    def __enter__(self) -> Load:
        self._futures = [self._pool.submit(self._run, name) for name in self.names]
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for future in self._futures:
            future.result(timeout=60)
        self._pool.shutdown()

    def _run(self, name: str) -> None:
        port, n = self.server.port, 0
        paths = [
            f"/get_feature_metadata/{name}?{READ}",
            f"/features/{name}/history?{READ}",
            f"/get_all_feature_metadata?{READ}&limit=10",
            f"/events?{READ}&limit=20",
        ]
        while not self._stop.is_set():
            n += 1
            statuses = [
                call(
                    port,
                    "POST",
                    "/update_feature_metadata",
                    {
                        "feature_name": name,
                        "description": f"d{n}",
                        "last_updated_by": "dev",
                        "user_role": "developer",
                    },
                ).status
            ]
            statuses += [call(port, "GET", path).status for path in paths]  # fmt: skip
            with self._lock:
                self.statuses.update(statuses)
                self.writes += 1
                self.reads += len(paths)


def run_load(
    server: Gunicorn, prefix: str, seconds: float, during: Callable[[], None] = lambda: None
) -> Load:
    names = [f"{prefix}:f{i}:1" for i in range(4)]
    for name in names:
        create(server, name)
    with Load(server, names) as load:
        time.sleep(seconds / 2)
        during()
        time.sleep(seconds / 2)
    return load


def test_reads_land_on_the_replica_and_writes_on_the_primary(
    topology: Topology,
    server: Gunicorn,
    report_figures: Callable[[str, Mapping[str, object]], None],
) -> None:
    before, on_replica_before = served(server), transactions_on(topology.replica)
    load = run_load(server, "spread", seconds=4)
    after = served(server)
    assert set(load.statuses) == {200}, load.statuses
    replica_reads = after["replica"] - before["replica"]
    on_primary = sum(after.values()) - sum(before.values()) - replica_reads
    assert replica_reads + on_primary == load.reads
    assert replica_reads >= 0.95 * load.reads, after - before
    # The replica's own count of transactions: every read it served was one there (its
    # statistics reach pg_stat_database within a second).
    wait_until(
        lambda: transactions_on(topology.replica) - on_replica_before >= replica_reads,
        timeout=10,
        what="the replica to count the reads it served",
    )
    with psycopg.connect(topology.primary.url.replace("+psycopg", "")) as primary:
        written = primary.execute(
            "SELECT count(*) FROM feature_changes WHERE feature_name LIKE 'spread:%'"
        ).fetchone()
    assert written is not None and written[0] == load.writes + 4  # + the creates
    report_figures("replica reads", {
        "reads": load.reads, "served by the replica": replica_reads, "by the primary": on_primary,
        "writes": load.writes, "replica lag now (s)": health(server)["replica_lag_s"],
    })  # fmt: skip


def test_a_replica_of_an_idle_primary_is_not_lagging(topology: Topology, server: Gunicorn) -> None:
    """Without writes the last replayed commit grows old (pg_last_xact_replay_timestamp);
    a replica that has replayed all the primary wrote is still current."""
    name = "idle:feature:1"
    create(server, name)
    wait_until(readable(server, name), timeout=10, what="the replica to have the feature")
    time.sleep(MAX_LAG_S + 2 * CHECK_S)  # nothing written meanwhile
    with psycopg.connect(topology.replica.url.replace("+psycopg", "")) as replica:
        row = replica.execute(
            "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
        ).fetchone()
    assert row is not None and float(row[0]) > MAX_LAG_S  # by that measure alone: lagging
    before = served(server)
    assert (health(server)["replica"], health(server)["replica_lag_s"]) == ("ok", 0.0)
    description(server, name)
    assert served(server)["replica"] == before["replica"] + 1


def test_the_reads_of_serving_run_on_the_hot_standby(server: Gunicorn) -> None:
    """SPEC §13's reads on a real standby: the Feast endpoint's lookups, usage, and what was
    served at a time (one read-only REPEATABLE READ transaction, which a standby allows)."""
    name = "standby:served:1"
    create(server, name)
    wait_until(readable(server, name), timeout=10, what="the replica to have the feature")
    before = served(server)
    feast = call(server.port, "POST", "/get-online-features",
                 {"features": ["standby:served"], "entities": {"driver_id": ["D1"]}})  # fmt: skip
    usage = call(server.port, "GET", f"/features/{name}/usage?{READ}")
    then = call(server.port, "GET", f"/get_deployed_features?{READ}&at={int(time.time() * 1000)}")
    assert (feast.status, usage.status, then.status) == (200, 200, 200), (feast.body, then.body)
    assert feast.json()["results"][1]["statuses"] == ["NOT_FOUND"]  # a DRAFT is not served
    assert usage.json()["feature_name"] == name
    assert served(server)["replica"] == before["replica"] + 3
    # The snapshot's connection goes back to the pool the other replica reads share: it
    # must come back usable (its reset may not try to make a standby's session writable).
    for _ in range(2 * WORKERS):
        then = call(
            server.port, "GET", f"/get_deployed_features?{READ}&at={int(time.time() * 1000)}"
        )
        history = call(server.port, "GET", f"/features/{name}/history?{READ}")
        assert (then.status, history.status) == (200, 200), (then.body, history.body)


def test_a_write_then_a_read_with_x_read_after_sees_the_write(server: Gunicorn) -> None:
    name = "ryw:feature:1"
    create(server, name)
    before = served(server)
    for n in range(30):
        written = describe(server, name, f"written {n}")
        assert description(server, name, **{"X-Read-After": written}) == f"written {n}"
        held = call(server.port, "GET", f"/get_feature_metadata/{name}?{READ}",
                    headers={"If-None-Match": written})  # fmt: skip
        assert (held.status, held.body, held.headers["ETag"]) == (304, b"", written)
    after = served(server)
    # Each read went to the replica when it had the write already, else to the primary.
    assert sum(after.values()) - sum(before.values()) == 60


def test_the_replica_stopped_mid_load_costs_no_request_and_its_reads_go_to_the_primary(
    topology: Topology, server: Gunicorn
) -> None:
    before = served(server)
    try:
        load = run_load(
            server, "outage", seconds=4, during=lambda: topology.replica.stop("immediate")
        )
        assert set(load.statuses) == {200}, load.statuses  # not one request lost
        during = served(server)
        assert during["primary/down"] + during["primary/failed"] > (
            before["primary/down"] + before["primary/failed"]
        )
        assert health(server)["replica"] == "down"  # and the service healthy (200)
    finally:
        topology.replica.start()
    wait_until(lambda: health(server)["replica"] == "ok", timeout=30, what="the replica back")

    def back_on_the_replica() -> bool:  # a worker tries it again at its next check
        description(server, "outage:f0:1")
        return served(server)["replica"] > during["replica"]

    wait_until(back_on_the_replica, timeout=15, what="reads to go to the replica again")


def test_replay_paused_beyond_the_bound_sends_reads_to_the_primary_and_none_is_older(
    topology: Topology,
    server: Gunicorn,
    report_figures: Callable[[str, Mapping[str, object]], None],
) -> None:
    name = "paused:feature:1"
    create(server, name)
    wait_until(readable(server, name), timeout=10, what="the replica to have the feature")
    before = served(server)
    on_replica(topology, "SELECT pg_wal_replay_pause()")
    try:
        describe(server, name, "written while replay is paused")
        written_at = time.monotonic()
        stale_reads: list[float] = []  # how long after the write each stale read was asked
        while True:
            asked_at = time.monotonic()
            if description(server, name) == "written while replay is paused":
                break
            stale_reads.append(asked_at - written_at)
            time.sleep(0.05)
        assert time.monotonic() - written_at <= MAX_LAG_S + CHECK_S + 1
        # No stale read asked for after the bound (served no earlier than it was asked).
        assert all(age <= MAX_LAG_S + 0.05 for age in stale_reads), stale_reads
        paused = health(server)
        assert paused["replica"] == "lagging" and paused["replica_lag_s"] > MAX_LAG_S - CHECK_S
        for _ in range(10):
            assert description(server, name) == "written while replay is paused"
        assert served(server)["primary/lagging"] >= before["primary/lagging"] + 10
    finally:
        on_replica(topology, "SELECT pg_wal_replay_resume()")
    wait_until(
        lambda: health(server)["replica"] == "ok", timeout=15, what="the replica to catch up"
    )
    report_figures("replica lag", {
        "lag measured while paused (s)": paused["replica_lag_s"],
        "stale reads while paused": len(stale_reads),
        "oldest stale read (s after the write)": round(max(stale_reads, default=0.0), 2),
        "lag once resumed (s)": health(server)["replica_lag_s"],
    })  # fmt: skip


@dataclass
class _Client:
    """tests.concurrency's event-feed follower speaks to servers through ``request``."""

    server: Gunicorn

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        reply = call(self.server.port, method, path, body, timeout=30)
        return reply.status, reply.json()


def test_the_event_feed_followed_from_the_replica_never_skips(server: Gunicorn) -> None:
    before = served(server)
    seen, logged = follow_while_writing(_Client(server))
    # The feed starts with the other tests' events (one database): those are left out.
    assert_each_seen_once_in_order(
        [e for e in seen if e["feature_name"].startswith("feed_")], logged
    )
    after = served(server)
    # The follower's polls were read from the replica (the change logs read back at the end
    # as well), while the writers wrote on the primary.
    assert after["replica"] - before["replica"] >= 0.9 * (
        sum(after.values()) - sum(before.values())
    )


def reads_per_second(port: int, name: str, seconds: float = 3.0, threads: int = 8) -> float:
    """Reads by name from ``threads`` client threads for ``seconds`` (all must be 200)."""
    deadline, counts = time.monotonic() + seconds, []

    def read() -> int:
        n = 0
        while time.monotonic() < deadline:
            reply = call(port, "GET", f"/get_feature_metadata/{name}?{READ}")
            assert reply.status == 200, reply.body
            n += 1
        return n

    with ThreadPoolExecutor(threads) as pool:
        counts = list(pool.map(lambda _: read(), range(threads)))
    return round(sum(counts) / seconds)


def test_read_throughput_with_and_without_the_replica_as_a_sanity_figure(
    topology: Topology,
    server: Gunicorn,
    tmp_path_factory: pytest.TempPathFactory,
    report_figures: Callable[[str, Mapping[str, object]], None],
) -> None:
    """Only a sanity check, reported and not asserted: the two servers, gunicorn and the
    client share this machine's cores, so a replica adds no capacity here."""
    name = "throughput:feature:1"
    create(server, name)
    wait_until(readable(server, name), timeout=10, what="the replica to have the feature")
    with_replica = reads_per_second(server.port, name)
    work_dir = tmp_path_factory.mktemp("primary-only")
    url = topology.bouncer.url("postgres")
    with gunicorn(url, work_dir, workers=WORKERS, DATABASE_POOLER="transaction") as alone:
        primary_only = reads_per_second(alone.port, name)
    report_figures("read throughput (reads/s, 8 client threads, gunicorn -w 2)", {
        "with the replica": with_replica, "primary only": primary_only,
    })  # fmt: skip
