"""Who reads what (SPEC §13): counting served reads without a write per request.

Each process keeps its counts in memory (``UsageCounter``) and adds them to the database
(``db.usage``) every ``USAGE_FLUSH_S`` seconds from a thread of its own, and once more when
it stops (gunicorn's ``worker_exit`` hook, and ``atexit`` for any other server): a worker
killed outright loses at most the counts of its last interval.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Engine

from feature_gateway.db.scopes import Database
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.domain.freshness import WITHIN_LAG, Freshness
from feature_gateway.domain.usage import ConsumerUsage, first_day_of, utc_day
from feature_gateway.services.clock import now_ms
from feature_gateway.services.rows import load_feature

logger = logging.getLogger("feature_gateway.usage")

# (feature name, consumer, UTC day) → [reads, first read, last read]
_Key = tuple[str, str, int]


class UsageCounter:
    """This process's read counts that are not in the database yet."""

    def __init__(self, flush_interval_s: float) -> None:
        self.flush_interval_s = flush_interval_s
        self._counts: dict[_Key, list[int]] = {}
        self._lock = threading.Lock()  # the counts (threaded workers count at once)
        self._flushing = threading.Lock()  # one flush at a time, the last one included
        self._stopped = threading.Event()
        self._flusher: threading.Thread | None = None
        self._database: Database | None = None
        self._pid = 0

    def count(self, feature_names: Collection[str], consumer: str, at_ms: int) -> None:
        """One read of each feature by ``consumer`` at ``at_ms``: a dict update each."""
        day = utc_day(at_ms)
        with self._lock:
            counts = self._counts
            for name in feature_names:
                key = (name, consumer, day)
                found = counts.get(key)
                if found is None:
                    counts[key] = [1, at_ms, at_ms]
                else:  # comparisons, not min() and max(): two calls a feature fewer
                    found[0] += 1
                    if at_ms < found[1]:
                        found[1] = at_ms
                    if at_ms > found[2]:
                        found[2] = at_ms

    def flush(self, database: Database) -> int:
        """Add the counts to the database; returns how many rows that took. Counts that
        could not be written are kept for the next flush (the database may be back)."""
        with self._flushing:
            with self._lock:
                taken, self._counts = self._counts, {}
            if not taken:
                return 0
            rows = [
                {"feature_name": name, "consumer": consumer, "day": day, "reads": reads,
                 "first_read_time": first, "last_read_time": last}
                for (name, consumer, day), (reads, first, last) in taken.items()
            ]  # fmt: skip
            try:
                with database.writing() as uow:
                    uow.usage.add(rows)
                    uow.commit()
            except BaseException:
                self._keep(taken)
                raise
            return len(rows)

    def discard(self) -> None:
        """Forget the counts not yet flushed (tests binding the app to another database)."""
        with self._lock:
            self._counts = {}

    def flush_regularly(self, database: Database) -> None:
        """Start this process's flusher thread, once (again in a forked child). Only for a
        database on its own engine: a connection (a test's) is not for another thread."""
        if self._pid == os.getpid() or not isinstance(database.bind, Engine):
            return
        self._pid, self._database = os.getpid(), database
        self._stopped.clear()
        self._flusher = threading.Thread(target=self._run, name="usage-flusher", daemon=True)
        self._flusher.start()
        atexit.register(self.stop)

    def stop(self) -> None:
        """Flush what is left and end the flusher: at a worker's graceful exit."""
        if self._database is None or self._pid != os.getpid():
            return
        self._stopped.set()
        self._flush_logged(self._database)

    def _run(self) -> None:
        while not self._stopped.wait(self.flush_interval_s):
            if self._database is not None:
                self._flush_logged(self._database)

    def _flush_logged(self, database: Database) -> None:
        try:
            self.flush(database)
        except Exception:  # the thread must live on: the counts are kept for next time
            logger.exception("usage counts could not be written; kept for the next flush")

    def _keep(self, taken: dict[_Key, list[int]]) -> None:
        with self._lock:
            for key, (reads, first, last) in taken.items():
                found = self._counts.get(key)
                if found is None:
                    self._counts[key] = [reads, first, last]
                else:
                    found[0] += reads
                    found[1], found[2] = min(found[1], first), max(found[2], last)


@dataclass(frozen=True)
class FeatureUsageReport:
    feature_name: str
    days: int
    reads: int
    consumers: list[ConsumerUsage]


def feature_usage(
    database: Database, feature_name: str, days: int, freshness: Freshness = WITHIN_LAG
) -> FeatureUsageReport:
    """Each consumer's reads of the feature over the last ``days`` UTC days, today included
    (what the workers have flushed: up to ``USAGE_FLUSH_S`` behind), on a replica when one
    may serve it."""
    since = first_day_of(days, now_ms())

    def read(uow: UnitOfWork) -> tuple[str, list[ConsumerUsage]]:
        feature = load_feature(uow, feature_name)
        return feature.feature_name, uow.usage.by_consumer(feature.feature_name, since)

    stored, consumers = database.replicated_read(read, freshness.of(feature_name))
    total = sum(consumer.reads for consumer in consumers)
    return FeatureUsageReport(stored, days, total, consumers)
