"""Where the test databases live: a SQLite file always, PostgreSQL when reachable.

Under CI=true PostgreSQL is mandatory: an unreachable server fails the run instead of
skipping half of the suite.
"""

from __future__ import annotations

import os
import socket
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from feature_gateway.config import Settings

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("TEST_PG_DB", "test")
# DATABASE_POOLER=transaction when TEST_PG_PORT is a PgBouncer in transaction pooling
# (tests/deploy/test_pgbouncer.py runs PostgreSQL tests so): engines the tests make
# themselves then follow it as the app's do.
PG_POOLER = os.environ.get("DATABASE_POOLER") or "none"
BACKENDS = ("sqlite", "postgresql")


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def require_backend(backend: str) -> None:
    if backend == "postgresql" and not postgres_reachable():
        message = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI requires the PostgreSQL tests to run")
        pytest.skip(message)


def settings_for(database_url: str, **settings: Any) -> Settings:
    """The app's settings for a test database (and the pooler in front of it, if any)."""
    return Settings(**{"database_url": database_url, "database_pooler": PG_POOLER, **settings})


def postgres_url(database: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def create_postgres_database() -> str:
    """A new, empty PostgreSQL database; returns its name."""
    import psycopg

    name = f"fmg_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _BackgroundDrops:
    """PostgreSQL 15's DROP DATABASE waits for a checkpoint: 0.3 s on a quiet machine, 2-3 s
    on a loaded one, at the end of every test that made a database of its own. In a test
    session (``start``, from tests/conftest.py) one thread of its own drops them while
    the next tests run, and ``finish`` waits for it, raising what a drop raised."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._drops: list[Future[None]] = []

    def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-database")

    def drop(self, name: str) -> None:
        if self._executor is None:
            _drop(name)
        else:
            self._drops.append(self._executor.submit(_drop, name))

    def finish(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        drops, self._drops = self._drops, []
        for drop in drops:
            drop.result()


BACKGROUND_DROPS = _BackgroundDrops()


def drop_postgres_database(name: str) -> None:
    """Drop ``name`` (in the background during a test session, ``_BackgroundDrops``)."""
    BACKGROUND_DROPS.drop(name)


class FreshDatabase:
    """An empty database of one backend, made for one test (or session) and then removed."""

    def __init__(self, backend: str, tmp_dir: Path) -> None:
        self.backend = backend
        if backend == "sqlite":
            self.url = f"sqlite:///{tmp_dir / f'fmg-{uuid.uuid4().hex[:8]}.db'}"
            self._pg_name = None
        else:
            self._pg_name = create_postgres_database()
            self.url = postgres_url(self._pg_name)

    def drop(self) -> None:
        if self._pg_name:
            drop_postgres_database(self._pg_name)
