"""Where the test databases live: a SQLite file always, PostgreSQL when reachable.

Under CI=true PostgreSQL is mandatory: an unreachable server fails the run instead of
skipping half of the suite.
"""

from __future__ import annotations

import os
import socket
import uuid
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


def drop_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
