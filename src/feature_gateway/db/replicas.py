"""Reads served by a streaming replica, within a bound on its lag (SPEC §15).

The read scopes a replica may serve are ``Database.replicated_lookup`` and
``Database.replicated_read``: the reads that need no write's transaction (get, list,
history, change log, diff, versions, events, deployed, the values' lookups). Every other
scope (``reading``, ``writing``, a request's transaction) is the primary's. ``route_read``
decides, per read, where it is served:

- on the replica when one is configured, its lag is within ``READ_MAX_LAG_S``, and the read
  does not ask for more (``domain.freshness``: the latest state, or a revision the replica's
  row of the feature does not have yet);
- else on the primary; and a read that fails on the replica because it went away is read
  again on the primary (the replica is then left alone until its next measurement), so a
  replica that dies costs no request.

How far behind: each process measures at most every ``READ_LAG_CHECK_S``, in the request that
finds its last measurement due (the others meanwhile use that one). The primary's WAL write
position is read first; a replica that has replayed up to it holds every transaction
committed before that moment, so its lag is 0 however long the primary has been idle (when
``pg_last_xact_replay_timestamp()`` grows old). Otherwise its lag is the age of the last
transaction it replayed, on the replica's clock (keep hosts' clocks in sync). A measurement
ages: a read is sent to the replica only while its lag plus the time since it was measured
is within the bound, so no read is older than the bound.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from feature_gateway import observability
from feature_gateway.config import Settings
from feature_gateway.db.engine import make_engine
from feature_gateway.domain.freshness import Freshness
from feature_gateway.errors import DatabaseUnavailableError

log = logging.getLogger("feature_gateway.replica")

_PRIMARY_POSITION = "SELECT pg_current_wal_lsn()::text"
# In recovery or not (a read URL may name the primary itself, or a promoted replica),
# replayed up to the primary's position or not, and the age of the last replayed commit.
_REPLICA_LAG = (
    "SELECT pg_is_in_recovery(),"
    " pg_last_wal_replay_lsn() >= CAST(%(position)s AS pg_lsn),"
    " EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8"
)


class ReplicaState(StrEnum):
    OK = "ok"
    LAGGING = "lagging"
    DOWN = "down"


@dataclass(frozen=True)
class Measurement:
    lag_s: float | None  # None: the replica did not answer; inf: it answered, lag unknown
    at: float  # time.monotonic() when measured

    def state(self, now: float, max_lag_s: float) -> ReplicaState:
        if self.lag_s is None:
            return ReplicaState.DOWN
        if self.lag_s + (now - self.at) > max_lag_s:
            return ReplicaState.LAGGING
        return ReplicaState.OK


class ReadReplica:
    """The replica's engine and what this process last measured of it."""

    def __init__(
        self,
        engine: Engine,
        primary: Engine,
        *,
        max_lag_s: float,
        check_every_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self._primary = primary
        self.max_lag_s = max_lag_s
        self._check_every_s = check_every_s
        self._clock = clock
        self._measuring = threading.Lock()
        self._last = Measurement(None, -math.inf)  # never measured: measure on first use

    def state(self) -> tuple[ReplicaState, float | None]:
        """Its state now, and its lag as last measured (measured again when that is due)."""
        now = self._clock()
        last = self._last
        if now - last.at >= self._check_every_s and self._measuring.acquire(blocking=False):
            try:  # dated from before the primary's position was read: its age is not flattered
                last = self._record(Measurement(self._measure_lag(), now))
            finally:
                self._measuring.release()
            now = self._clock()
        return last.state(now, self.max_lag_s), last.lag_s

    def mark_down(self) -> None:
        """A read failed on it: leave it alone until the next measurement is due."""
        self._record(Measurement(None, self._clock()))

    def _record(self, measurement: Measurement) -> Measurement:
        """Keep a measurement; a change of state is logged (each process's first too)."""
        first = math.isinf(self._last.at)
        before = self._last.state(measurement.at, self.max_lag_s)
        after = measurement.state(measurement.at, self.max_lag_s)
        self._last = measurement
        observability.replica_measured(measurement.lag_s)
        if first or before != after:
            level = logging.INFO if after is ReplicaState.OK else logging.WARNING
            extra = {"replica": after.value, "lag_s": measurement.lag_s}
            log.log(level, "read replica: %s", after.value, extra=extra)
        return measurement

    def _measure_lag(self) -> float | None:
        position = None
        try:  # a primary that does not answer leaves the replica's own measure alone
            with _autocommit(self._primary) as primary:
                position = primary.exec_driver_sql(_PRIMARY_POSITION).scalar_one()
        except DBAPIError:
            pass
        try:
            with _autocommit(self.engine) as replica:
                row = replica.exec_driver_sql(_REPLICA_LAG, {"position": position}).one()
        except DBAPIError:
            return None
        in_recovery, caught_up, replay_age_s = row
        if not in_recovery or caught_up:
            return 0.0
        return math.inf if replay_age_s is None else max(float(replay_age_s), 0.0)


@contextmanager
def _autocommit(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


def read_replica(settings: Settings, primary: Engine) -> ReadReplica | None:
    """The replica of ``DATABASE_READ_URL``, with the same connection settings as the
    primary's; None when none is configured."""
    if not settings.database_read_url:
        return None
    return ReadReplica(
        # Still a round trip on every checkout: tests/deploy/test_read_replicas.py counts
        # the replica's transactions (pg_stat_database) within 10 s of a load, and without
        # the pings' own they reach it only at PostgreSQL's 10 s idle flush of statistics.
        make_engine(settings, settings.database_read_url, ping_every_checkout=True),
        primary,
        max_lag_s=settings.read_max_lag_s,
        check_every_s=settings.read_lag_check_s,
    )


class _Revisions(Protocol):
    def revision_of(self, feature_name: str) -> int | None: ...


class Reader(Protocol):
    """A lookup or a unit of work: what a routed read is given."""

    @property
    def features(self) -> _Revisions: ...


R = TypeVar("R", bound=Reader)
T = TypeVar("T")


def route_read(
    replica: ReadReplica | None,
    freshness: Freshness,
    on_replica: Callable[[], AbstractContextManager[R]],
    on_primary: Callable[[], AbstractContextManager[R]],
    read: Callable[[R], T],
) -> T:
    """``read`` on a reader of the replica when it may serve it (see the module), else on
    one of the primary."""
    if replica is None:
        with on_primary() as reader:
            return read(reader)
    reason = "latest" if freshness.latest else "revision"
    if not freshness.primary_only:
        state, _ = replica.state()
        reason = state.value
        if state is ReplicaState.OK:
            try:
                with on_replica() as reader:
                    if _visible(reader, freshness):
                        result = read(reader)
                        observability.read_served("replica", "replica")
                        return result
                reason = "revision"
            except DatabaseUnavailableError:
                replica.mark_down()
                reason = "failed"
    with on_primary() as reader:
        result = read(reader)
    observability.read_served("primary", reason)
    return result


def _visible(reader: Reader, freshness: Freshness) -> bool:
    """Whether the replica has the revision asked for (it only goes forward, so it keeps
    having it); checked on the connection the read then runs on."""
    if freshness.revision is None or freshness.feature_name is None:
        return True
    revision = reader.features.revision_of(freshness.feature_name)
    return revision is not None and revision >= freshness.revision
