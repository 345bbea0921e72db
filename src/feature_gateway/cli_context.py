"""What every command of the CLI works on: the app's settings and database, and the check
that the database is there and migrated before a command uses it (``with_database``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

if TYPE_CHECKING:
    from feature_gateway.web.context import Gateway

F = TypeVar("F", bound=Callable[..., Any])


class StartError(click.ClickException):
    """The command cannot start: one line on stderr, exit 2, no traceback."""

    exit_code = 2


def current_gateway() -> Gateway:
    """The settings and database of the app the command runs in (``with_appcontext``)."""
    # Imported when a command runs, as the CLI's other imports of the app are.
    from feature_gateway.web.context import EXTENSION

    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def with_database(command: F) -> F:
    """``with_appcontext`` for a command that uses the database: first checked to exist,
    answer and be migrated, else one line naming the way out (``feature-gateway migrate``)
    and exit 2, instead of a traceback; a missing SQLite file is not created."""

    @with_appcontext
    @functools.wraps(command)
    def checked(*args: Any, **kwargs: Any) -> Any:
        require_migrated_database()
        return command(*args, **kwargs)

    return cast(F, checked)


def require_migrated_database() -> None:
    from feature_gateway.errors import DatabaseUnavailableError

    gateway = current_gateway()
    url = gateway.settings.database_url
    _require_sqlite_file(url)
    try:
        _require_migrated(gateway.database.bind, url)
    except (DatabaseUnavailableError, SQLAlchemyError) as exc:
        raise StartError(f"cannot read the database {shown_url(url)}: {reason(exc)}") from exc


def _require_sqlite_file(url: str) -> None:
    """Connecting to a SQLite path that does not exist would create an empty database."""
    parsed = make_url(url)
    path = parsed.database
    file_based = parsed.get_backend_name() == "sqlite" and path and path != ":memory:"
    if file_based and not Path(str(path)).is_file():
        raise StartError(
            f"there is no SQLite database at {path}; run feature-gateway migrate to create it"
        )


def _require_migrated(bind: Engine | Connection, url: str) -> None:
    """The database is at this version's head, or at a revision this version does not
    know (a newer release migrated it: during a rollout the code still running must work
    on it); empty or behind, it is not migrated."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from feature_gateway.db.migrations import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(url))
    heads = set(scripts.get_heads())
    if isinstance(bind, Connection):
        current = set(MigrationContext.configure(bind).get_current_heads())
    else:
        with bind.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    try:
        for revision in current:
            scripts.get_revision(revision)
    except CommandError:
        return  # newer than this version
    if current != heads:
        at = ", ".join(sorted(current)) or "no revision (empty)"
        raise StartError(
            f"the database {shown_url(url)} is not migrated: it is at {at}, this version "
            f"needs {', '.join(sorted(heads))}; run feature-gateway migrate"
        )


def shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def reason(exc: BaseException) -> str:
    """The driver's first line (e.g. "connection refused"), not a traceback."""
    cause: Any = exc
    while cause.__cause__ is not None and not isinstance(cause, DBAPIError):
        cause = cause.__cause__
    if isinstance(cause, DBAPIError):
        cause = cause.orig
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__
