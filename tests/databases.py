"""Where the test databases live: a SQLite file always, PostgreSQL when reachable.

Under CI=true PostgreSQL is mandatory: an unreachable server fails the run instead of
skipping half of the suite.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic import command

from feature_gateway.config import Settings
from feature_gateway.db.migrations import alembic_config

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


def create_postgres_database(template: str | None = None) -> str:
    """A new PostgreSQL database, empty or a copy of ``template``; returns its name."""
    import psycopg

    name = f"fmg_test_{uuid.uuid4().hex[:12]}"
    copy_of = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy_of}')
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


def migrate(url: str, revision: str = "head") -> None:
    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, revision)


class FreshDatabase:
    """An empty database of one backend, made for one test (or session) and then removed;
    ``migrated=True``: one at the newest revision, as ``migrate`` leaves it (``_Templates``)."""

    def __init__(self, backend: str, tmp_dir: Path, *, migrated: bool = False) -> None:
        self.backend = backend
        self._pg_name: str | None = None
        if backend == "sqlite":
            path = tmp_dir / f"fmg-{uuid.uuid4().hex[:8]}.db"
            self.url = migrated_sqlite(path) if migrated else f"sqlite:///{path}"
            return
        copied = TEMPLATES.postgres_copy() if migrated else None
        self._pg_name = copied or create_postgres_database()
        self.url = postgres_url(self._pg_name)
        if migrated and not copied:
            migrate(self.url)

    def drop(self) -> None:
        if self._pg_name:
            drop_postgres_database(self._pg_name)


def migrated_sqlite(path: Path) -> str:
    """The URL of a new migrated SQLite database in the file ``path`` (``_Templates``)."""
    url = f"sqlite:///{path}"
    if not TEMPLATES.sqlite_copy(path):
        migrate(url)
    return url


class _Templates:
    """Migrating a database takes 0.6 s on a quiet machine (13 revisions, SQLite's batch
    copies of tables), and a hundred-odd tests need a fresh migrated one of their own. In a
    test session (``start``, from tests/conftest.py) each backend is migrated once per
    process, into a template, and each such test gets a copy: the SQLite file copied, a
    PostgreSQL ``CREATE DATABASE ... TEMPLATE`` (as fast as an empty one, which is a copy
    of template1). The copy is the migrated database byte for byte, alembic's revision
    included; tests/migrations still migrate for real. Outside a session (no ``start``),
    each is migrated."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._made: dict[str, FreshDatabase] = {}

    def start(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="fmg-templates-"))

    def sqlite_copy(self, path: Path) -> bool:
        """A copy of the SQLite template at ``path``; False outside a session."""
        template = self._template("sqlite")
        if template is not None:
            shutil.copyfile(template.url.removeprefix("sqlite:///"), path)
        return template is not None

    def postgres_copy(self) -> str | None:
        """The name of a new copy of the PostgreSQL template; None outside a session."""
        template = self._template("postgresql")
        return create_postgres_database(template=template._pg_name) if template else None

    def _template(self, backend: str) -> FreshDatabase | None:
        if self._folder is None:
            return None
        if backend not in self._made:
            template = FreshDatabase(backend, self._folder)
            migrate(template.url)  # alembic's engine is disposed: no connection left on it
            if template._pg_name:
                _end_sessions_on(template._pg_name)
            else:
                # The last connection closed has checkpointed the WAL into the file and
                # removed it: the file alone is the whole database.
                assert not Path(template.url.removeprefix("sqlite:///") + "-wal").exists()
            self._made[backend] = template
        return self._made[backend]

    def finish(self) -> None:
        for template in self._made.values():
            template.drop()
        self._made.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _end_sessions_on(name: str) -> None:
    """A copy needs its template without sessions: through PgBouncer (the PostgreSQL tests
    run again through it, tests/deploy/test_pgbouncer.py) the migration's server connection
    stays in PgBouncer's pool; ended here, it is never used again."""
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, autocommit=True
    ) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


TEMPLATES = _Templates()


def close_app(app: Any) -> None:
    """End an app a test built with ``create_app`` on an engine of its own, before its
    database is dropped: its read counts are dropped and its usage flusher stopped (else
    the thread, and ``atexit`` at the end of the run, would write them to a database that
    is gone), and its engines disposed."""
    gateway = app.extensions["feature_gateway"]
    gateway.usage.discard()
    gateway.usage.stop()
    gateway.database.bind.dispose()
    if gateway.database.replica is not None:
        gateway.database.replica.engine.dispose()
