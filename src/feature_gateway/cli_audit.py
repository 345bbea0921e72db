"""``feature-gateway audit verify``: is every feature's audit trail whole? (SPEC §11)

Exit 0: whole (the counts on one line); 1: one line per break, then a summary; 2: the
check could not run (the database is unreachable, missing or not migrated), one line on
stderr and no traceback. ``--json`` prints one JSON document instead, for scripts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from feature_gateway.cli_context import current_gateway

EXIT_WHOLE, EXIT_BROKEN, EXIT_CANNOT_CHECK = 0, 1, 2


class CannotCheckError(click.ClickException):
    exit_code = EXIT_CANNOT_CHECK


@click.group("audit")
def audit_group() -> None:
    """Check the audit trail (history and change log) of every feature."""


@audit_group.command("verify")
@with_appcontext
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout")
def verify_command(as_json: bool) -> None:
    """Check every feature's history and change log against its row; exit 1 on a break."""
    from feature_gateway.errors import DatabaseUnavailableError
    from feature_gateway.services.audit import verify_audit_trails

    gateway = current_gateway()
    url = gateway.settings.database_url
    _require_sqlite_file(url)
    try:
        _require_migrated(gateway.database.bind, url)
        report = verify_audit_trails(gateway.database)
    except (DatabaseUnavailableError, SQLAlchemyError) as exc:
        raise CannotCheckError(f"cannot read the database {_shown(url)}: {_reason(exc)}") from exc
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
    else:
        for found in report.breaks:
            entry = (
                f"{found.table} #{found.entry_id}" if found.entry_id is not None else found.table
            )
            name = found.feature_name or "(no feature row)"
            click.echo(f"BREAK feature {name} (id {found.feature_id}), {entry}: {found.problem}")
        counts = (
            f"{report.features} features, {report.history_entries} history entries, "
            f"{report.change_entries} change-log entries checked in {report.seconds:.1f} s"
        )
        if report.whole:
            click.echo(f"audit trail whole: {counts}")
        else:
            click.echo(
                f"audit trail BROKEN: {len(report.breaks)} breaks in "
                f"{report.broken_features} features; {counts}"
            )
    sys.exit(EXIT_WHOLE if report.whole else EXIT_BROKEN)


def _require_sqlite_file(url: str) -> None:
    """Connecting to a SQLite path that does not exist would create an empty database."""
    parsed = make_url(url)
    path = parsed.database
    file_based = parsed.get_backend_name() == "sqlite" and path and path != ":memory:"
    if file_based and not Path(str(path)).is_file():
        raise CannotCheckError(f"there is no SQLite database at {path}")


def _require_migrated(bind: Engine | Connection, url: str) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from feature_gateway.cli import alembic_config

    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    if isinstance(bind, Connection):
        current = set(MigrationContext.configure(bind).get_current_heads())
    else:
        with bind.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        at = ", ".join(sorted(current)) or "no revision (empty)"
        raise CannotCheckError(
            f"the database {_shown(url)} is not migrated: it is at {at}, this version needs "
            f"{', '.join(sorted(heads))}; run feature-gateway migrate"
        )


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    """The driver's first line (e.g. "connection refused"), not a traceback."""
    cause: Any = exc
    while cause.__cause__ is not None and not isinstance(cause, DBAPIError):
        cause = cause.__cause__
    if isinstance(cause, DBAPIError):
        cause = cause.orig
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__
