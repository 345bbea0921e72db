"""The soak: a workflow load on ``gunicorn -w 4`` through every failure a host sees.

In each cycle, under a load that never pauses: kill -9 of one worker (gunicorn starts
another), kill -9 of the master and a restart on the same port (as a supervisor would), and
a restart of PostgreSQL (its own server, as the restart test runs). Then every acknowledged
write is read back through the API and every audit chain is checked (``audit verify``).

The short variant (one cycle, 20 s of load, PostgreSQL) runs in ``make test``; ``make soak``
runs the long one. Knobs (environment): SOAK_SECONDS (load time per database, default 20),
SOAK_CYCLE_SECONDS (one cycle of the three failures, default SOAK_SECONDS), SOAK_THREADS
(client threads, default 6), SOAK_WORKERS (default 4), SOAK_BACKENDS (default "postgresql";
"postgresql,sqlite" adds SQLite, which has no server to restart and sees the other two).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.deploy.support import (
    Gunicorn,
    PrivatePostgres,
    gunicorn,
    private_postgres,
    process_gone,
    run_migrations,
    wait_until,
)
from tests.deploy.workload import (
    WorkflowLoad,
    resilience_figures,
    supports_idempotency,
    verify_audit_chains,
    verify_ledger,
)


def knob(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw else default


SECONDS = knob("SOAK_SECONDS", 20)
CYCLE_SECONDS = knob("SOAK_CYCLE_SECONDS", SECONDS)
THREADS = int(knob("SOAK_THREADS", 6))
WORKERS = int(knob("SOAK_WORKERS", 4))
BACKENDS = os.environ.get("SOAK_BACKENDS", "postgresql").split(",")
# How long the claim of a killed request holds its key (60 s by default): short, so that
# a retry of a request killed with its worker is taken over within the retry time.
LEASE_S = 3
# Where in each cycle each failure comes, as a share of the cycle.
KILL_WORKER_AT, KILL_MASTER_AT, RESTART_POSTGRES_AT = 0.15, 0.4, 0.7


POSTGRES = pytest.StashKey[PrivatePostgres]()


class Host:
    """The one app host: a gunicorn that this test, as its supervisor, restarts."""

    def __init__(self, database_url: str, work_dir: Path) -> None:
        self.database_url, self.work_dir = database_url, work_dir
        self.port: int | None = None
        self.incarnations = 0
        self._stack = contextlib.ExitStack()
        self.server = self._start()

    def _start(self) -> Gunicorn:
        self.incarnations += 1
        run_dir = self.work_dir / f"gunicorn-{self.incarnations}"
        run_dir.mkdir()
        server = self._stack.enter_context(
            gunicorn(
                self.database_url,
                run_dir,
                workers=WORKERS,
                port=self.port,
                IDEMPOTENCY_LEASE_S=str(LEASE_S),
            )
        )
        self.port = server.port
        return server

    def kill_a_worker(self) -> None:
        before = self.server.worker_pids_alive()
        os.kill(before[0], signal.SIGKILL)
        wait_until(
            lambda: len(set(self.server.worker_pids_alive()) - set(before)) == 1,
            timeout=30,
            what="gunicorn to replace the killed worker",
        )

    def kill_the_master_and_restart(self) -> None:
        orphans = self.server.worker_pids_alive()
        os.kill(self.server.process.pid, signal.SIGKILL)
        self.server.process.wait(timeout=10)
        # An orphaned sync worker looks for its master only when no connection is waiting,
        # so under load it serves on, holding the port. A supervisor ends them as systemd
        # (KillMode=control-group) or a container runtime does: kill -9 of the rest.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.process.pid, signal.SIGKILL)
        wait_until(
            lambda: all(process_gone(pid) for pid in orphans),
            timeout=30,
            what="the dead master's workers to exit",
        )
        self.server = self._start()

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/soak.db"
    else:
        with private_postgres(required_in_ci=True) as postgres:
            request.node.stash[POSTGRES] = postgres
            yield postgres.url


@pytest.mark.slow
def test_a_load_through_worker_and_master_kills_and_database_restarts_loses_nothing(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    report_figures: Callable[[str, Mapping[str, object]], None],
) -> None:
    postgres = request.node.stash.get(POSTGRES, None)
    run_migrations(database_url, tmp_path)
    host = Host(database_url, tmp_path)
    events: Counter[str] = Counter()
    try:
        assert host.port is not None
        assert supports_idempotency(
            host.port
        ), "the writes are not documented with Idempotency-Key"
        load = WorkflowLoad(
            host.port,
            threads=THREADS,
            prefix="soak",
            retry_for=30,
            drop_every=10,
        ).start()
        started = time.monotonic()
        schedule = []
        cycle = 0.0
        while cycle + CYCLE_SECONDS <= SECONDS + 0.001:
            schedule += [
                (cycle + KILL_WORKER_AT * CYCLE_SECONDS, "worker killed", host.kill_a_worker),
                (
                    cycle + KILL_MASTER_AT * CYCLE_SECONDS,
                    "master killed and restarted",
                    host.kill_the_master_and_restart,
                ),
            ]
            if postgres is not None:
                # A fast shutdown (sessions ended cleanly), then an immediate one (a crash:
                # recovery from the WAL), in turns.
                mode = ("fast", "immediate")[len(schedule) // 3 % 2]
                schedule.append(
                    (
                        cycle + RESTART_POSTGRES_AT * CYCLE_SECONDS,
                        f"postgres restarted ({mode})",
                        lambda mode=mode: postgres.restart(mode),
                    )
                )
            cycle += CYCLE_SECONDS
        for at, event, action in schedule:
            time.sleep(max(0.0, started + at - time.monotonic()))
            action()
            events[event] += 1
        time.sleep(max(0.0, started + SECONDS - time.monotonic()))
        load.stop()
        figures = load.figures
        ledger = verify_ledger(host.port, load.records)
        chains = verify_audit_chains(database_url)
    finally:
        host.close()
    refused = [record.refused for record in load.records if record.refused]
    backend = "postgresql" if postgres is not None else "sqlite"
    report_figures(
        f"soak ({backend}, gunicorn -w {WORKERS}, {SECONDS:.0f} s, {THREADS} clients)",
        resilience_figures(figures, ledger, chains, **dict(sorted(events.items()))),
    )

    assert ledger.lost == []
    assert ledger.unexpected == []
    assert refused == []
    assert figures.unknown_outcomes == 0  # every write was answered, if only on a retry
    assert chains.features == ledger.existing
    assert chains.breaks == []
    assert figures.acknowledged_writes >= 20  # the load got through (a busy machine is slow)
    # Every success the client threw away was retried with its key and answered from the
    # store, by whichever worker (or gunicorn) the retry reached.
    assert figures.dropped_successes > 0
    assert figures.replayed_successes == figures.dropped_successes
