"""SQLite's writers queue on a lock file beside the database, not in SQLite's busy handler.

SQLite lets one writer at a time hold a database. A writer that finds it held waits in
SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20 … ms between tries (its
``sqliteDefaultBusyCallback``). A create holds the lock for well under a millisecond, so a
second worker asleep for 1 to 3 ms mostly wakes to find the first worker already in its next
write, and sleeps longer: two gunicorn workers served fewer creates a second than one
(docs/performance.md, "i28-writers"). Here a write transaction first takes an exclusive
``flock`` on ``<database>-writers``, tried again every 25 to 400 µs, so a waiting writer
starts within a fraction of a millisecond of the lock's release; only then does it send
``BEGIN IMMEDIATE``, which then finds SQLite's lock free (a writer of another program,
which does not queue here, is still waited for by the busy timeout).

The lock is advisory and only orders writers: SQLite's own lock still guards the data, so a
process that never takes it (an older release, the sqlite3 shell) stays correct. It is
released when the transaction ends (``commit``, ``rollback``: the pool's reset on return
included), when its connection closes, and by the kernel when its process dies (a killed
worker holds no one up). A writer that cannot take it within the busy timeout gets
SQLite's own "database is locked", which a use case answers with 503 as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

# Tries at growing intervals, from the first retry's to the longest wait between two.
_FIRST_RETRY_S = 0.000_025
_LONGEST_RETRY_S = 0.000_4
LOCK_SUFFIX = "-writers"  # beside -wal and -shm, SQLite's own


class QueuedWriters(sqlite3.Connection):
    """A pysqlite connection whose write transactions queue on the database's lock file
    (``sqlite3.connect(factory=...)``, the standard library's hook for a connection class).
    ``queue_writers`` is called once connected; until then, and for a database that is not
    a file (``:memory:``), nothing queues."""

    _lock_fd: int | None = None
    _lock_path: str | None = None
    _timeout_s = 0.0
    _holding = False

    def queue_writers(self, timeout_s: float) -> None:
        """Queue this connection's writers on ``<main database file>-writers``, when the
        database is a file whose folder takes the lock file (else SQLite's busy handler
        alone), each for at most ``timeout_s`` (the busy timeout)."""
        rows = self.execute("PRAGMA database_list").fetchall()
        path = next((row[2] for row in rows if row[1] == "main"), "")
        if path:
            self._lock_path, self._timeout_s = path + LOCK_SUFFIX, timeout_s

    def wait_to_write(self) -> None:
        """Take the writers' lock before ``BEGIN IMMEDIATE``; ``sqlite3.OperationalError``
        ("database is locked", SQLite's own words for it) after the timeout."""
        if self._lock_path is None or self._holding:
            return
        if self._lock_fd is None:
            try:
                self._lock_fd = os.open(
                    self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644
                )
            except OSError:  # a read-only folder: SQLite's busy handler alone
                self._lock_path = None
                return
        deadline = time.monotonic() + self._timeout_s
        retry_s = _FIRST_RETRY_S
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(retry_s)
                retry_s = min(retry_s * 2, _LONGEST_RETRY_S)
                continue
            self._holding = True
            return

    def done_writing(self) -> None:
        if self._holding and self._lock_fd is not None:
            self._holding = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.done_writing()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.done_writing()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.done_writing()
            if self._lock_fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._lock_fd)
                self._lock_fd = None


def wait_to_write(connection: Connection) -> None:
    """``QueuedWriters.wait_to_write`` for the driver's connection behind ``connection``,
    when made by it (not another ``creator``'s, which writes as SQLite alone lets it); a
    timeout raises what a busy ``BEGIN IMMEDIATE`` raises (SQLAlchemy's
    ``OperationalError``, 503 by the unit of work)."""
    dbapi_connection = connection.connection.dbapi_connection
    if not isinstance(dbapi_connection, QueuedWriters):
        return
    try:
        dbapi_connection.wait_to_write()
    except sqlite3.OperationalError as exc:
        raise DBAPIError.instance(
            "BEGIN IMMEDIATE",
            (),
            exc,
            sqlite3.Error,
            hide_parameters=True,
            dialect=connection.dialect,
        ) from exc


@contextlib.contextmanager
def one_write(dbapi_connection: Any) -> Iterator[None]:
    """A write statement run in autocommit (its own transaction: an idempotency key's
    claim, ``db.idempotency_claims``) in the writers' queue, as a write transaction is;
    inside a transaction, or on another driver's connection, nothing more."""
    if not isinstance(dbapi_connection, QueuedWriters) or dbapi_connection.in_transaction:
        yield
        return
    dbapi_connection.wait_to_write()
    try:
        yield
    finally:
        dbapi_connection.done_writing()
