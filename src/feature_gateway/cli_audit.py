"""``feature-gateway audit verify``: is every feature's audit trail whole? (SPEC §11)

Exit 0: whole (the counts on one line); 1: one line per break, then a summary; 2: the
check could not run (the database is unreachable, missing or not migrated), one line on
stderr and no traceback. ``--json`` prints one JSON document instead, for scripts.
"""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from feature_gateway.cli_context import (
    StartError,
    current_gateway,
    reason,
    shown_url,
    with_database,
)

EXIT_WHOLE, EXIT_BROKEN = 0, 1  # and 2 (StartError): the check could not run


@click.group("audit")
def audit_group() -> None:
    """Check the audit trail (history and change log) of every feature."""


@audit_group.command("verify")
@with_database
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout")
def verify_command(as_json: bool) -> None:
    """Check every feature's history and change log against its row; exit 1 on a break."""
    from feature_gateway.errors import DatabaseUnavailableError
    from feature_gateway.services.audit import verify_audit_trails

    gateway = current_gateway()
    try:
        report = verify_audit_trails(gateway.database)
    except (DatabaseUnavailableError, SQLAlchemyError) as exc:
        url = shown_url(gateway.settings.database_url)
        raise StartError(f"cannot read the database {url}: {reason(exc)}") from exc
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
            f"{report.change_entries} change-log entries, {report.comments} comments checked "
            f"in {report.seconds:.1f} s"
        )
        if report.whole:
            click.echo(f"audit trail whole: {counts}")
        else:
            click.echo(
                f"audit trail BROKEN: {len(report.breaks)} breaks in "
                f"{report.broken_features} features; {counts}"
            )
    sys.exit(EXIT_WHOLE if report.whole else EXIT_BROKEN)
