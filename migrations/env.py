"""Alembic environment: the URL comes from the app's settings, or an injected connection."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from feature_gateway.config import Settings, normalize_database_url
from feature_gateway.db import (  # noqa: F401  (registers the tables)
    catalog_models,
    console_sessions,
    definition_changes,
    idempotency,
    models,
    oidc_logins,
    tokens,
    usage,
    webhooks,
)
from feature_gateway.db.base import Base
from feature_gateway.db.engine import make_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    """The URL the CLI hands over, else DATABASE_URL; either read as the app reads it."""
    given = config.attributes.get("database_url")
    return normalize_database_url(str(given)) if given else Settings.from_env().database_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER by copying tables
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    injected = config.attributes.get("connection")
    if injected is not None:
        _configure(injected)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(Settings.from_env().with_overrides({"database_url": _database_url()}))
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Batch mode rebuilds a SQLite table by copy and DROP; with foreign keys
                # enforced the audit rows' key refuses that DROP. The pragma only works
                # outside a transaction, so it goes to the driver connection directly.
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                _check_foreign_keys(connection)
    finally:
        engine.dispose()


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    connection.rollback()
    connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
    if broken:
        raise RuntimeError(f"Migration left rows with broken foreign keys: {broken[:10]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
