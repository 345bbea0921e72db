"""Scratch databases for the benchmarks: migrated by Alembic, filled in bulk.

Rows are inserted through the model's table (SQLAlchemy Core), not through the API: a
100,000-feature table is ready in seconds. Every tenth feature is DEPLOYED (SPEC §6), and
exactly ``LIST_OWNER_ROWS`` features (all of them in a smaller table) have the
``created_by`` the filtered-list scenario asks for, so that page holds the same rows at
every table size and only the table grows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, insert, text

from feature_gateway.db.models import AuditEntry, Feature
from feature_gateway.domain.names import canonical_feature_name
from feature_gateway.domain.versions import family_name, version_key, version_number

T0 = 1_751_429_485_000
LIST_OWNER = "list_owner"
LIST_OWNER_ROWS = 100
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FEATURE_TYPES = ("batch", "real-time", "compute-first")
DATA_TYPES = ("float", "double", "integer", "bigint", "boolean", "string", "decimal", "int")


@dataclass(frozen=True)
class Dataset:
    url: str
    names: list[str]
    deployed: list[str]


def feature_name(i: int) -> str:
    return f"bench_view_{i // 100}:feature_{i}:1"


@contextmanager
def scratch_database(backend: str, folder: Path, pg_admin_url: str) -> Iterator[str]:
    """A new, migrated, empty database; removed afterwards."""
    if backend == "sqlite":
        yield _migrated(f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}")
        return
    name = f"fmg_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        yield _migrated(url)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrated(url: str) -> str:
    from alembic import command

    from feature_gateway.db.migrations import alembic_config

    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    return url


def store_feature_json(connection: Connection) -> None:
    """Have the database write every feature row's stored JSON, as migration 0015's
    backfill does (``db.feature_json``): rows a bench inserts or changes by its own
    statements have none or a stale one, and the list page would then have the database
    write theirs on every request. Nothing for code predating it (a ``--root`` checkout's
    or a ``PYTHONPATH`` "before")."""
    try:
        from feature_gateway.db.feature_json import rewrite_stored_json
    except ImportError:
        return
    rewrite_stored_json(connection)


def store_feature_json_at(url: str) -> None:
    """``store_feature_json`` on the database at ``url``, in a transaction of its own."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            store_feature_json(conn)
    finally:
        engine.dispose()


def fill(url: str, count: int, batch: int = 10_000) -> Dataset:
    """``count`` features (every tenth DEPLOYED), one audit row each, then ANALYZE."""
    engine = create_engine(url)
    names = [feature_name(i) for i in range(count)]
    try:
        with engine.begin() as conn:
            for start in range(0, count, batch):
                rows = [_row(i, names[i]) for i in range(start, min(count, start + batch))]
                conn.execute(insert(Feature.__table__), rows)
            store_feature_json(conn)
            audit = AuditEntry.__table__
            conn.execute(
                text(
                    f"INSERT INTO {audit.name} (feature_id, from_status, to_status, trigger,"
                    " actor, timestamp) SELECT id, NULL, status, 'import', created_by,"
                    f" created_time FROM {Feature.__table__.name}"
                )
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return Dataset(url, names, [n for i, n in enumerate(names) if i % 10 == 0])


def _row(i: int, name: str) -> dict[str, object]:
    return {
        "feature_name": name,
        "canonical_name": canonical_feature_name(name),
        # As FeatureRepository.add sets them: Feast's refs (``view:feature``) find the
        # features by family; without them the family index held one key, NULL.
        "family_name": family_name(name),
        "version_key": version_key(version_number(name)),
        "feature_type": FEATURE_TYPES[i % len(FEATURE_TYPES)],
        "feature_data_type": DATA_TYPES[i % len(DATA_TYPES)],
        "query": f"SELECT f{i} FROM bench_view_{i // 100} WHERE id = ?",
        "description": f"Benchmark feature number {i}",
        "status": "DEPLOYED" if i % 10 == 0 else "DRAFT",
        "created_time": T0 + i,
        "updated_time": T0 + i,
        "created_by": LIST_OWNER if i < LIST_OWNER_ROWS else f"dev{i % 20}",
        "revision": 1,
    }
