"""Operator commands: migrate, import/export features, print the OpenAPI document and the
lifecycle diagram, manage API tokens (``tokens``, in ``cli_tokens``), verify the audit
trail (``audit verify``, in ``cli_audit``), run the webhook worker and manage webhooks
(``webhooks``, in ``cli_webhooks``).

The composition root registers them on every app (``register_cli``); they run as
``feature-gateway <command>`` (``cli.main``) or ``flask --app wsgi <command>``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError

from feature_gateway.cli_context import current_gateway, with_database
from feature_gateway.db.migrations import alembic_config


@click.command("migrate")
@with_appcontext
@click.option("--revision", default="head", show_default=True)
def migrate_command(revision: str) -> None:
    """Apply database migrations (alembic upgrade)."""
    from alembic import command

    command.upgrade(alembic_config(current_gateway().settings.database_url), revision)
    click.echo(f"database at revision {revision}")


@click.command("import-features")
@with_database
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(path: Path) -> None:
    """Import features from a JSON file; names already stored are skipped.

    Each feature starts a new history at an `import` entry: restoring an export this way
    loses the history and change log. To restore a database, use its backup (sqlite3
    .backup, pg_dump: docs/operations.md, "Backups")."""
    from feature_gateway.api.features.schemas import FeatureRecordSchema
    from feature_gateway.services.transfer import import_features

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path} is not readable JSON: {exc}") from exc
    if isinstance(document, dict):  # also accept {name: record} as the prototype stored it
        document = document.get("features", list(document.values()))
    if not isinstance(document, list):
        raise click.ClickException(f"{path} must hold a JSON list of features")
    try:
        records = FeatureRecordSchema(many=True).load(document)
    except ValidationError as exc:
        raise click.ClickException(
            f"{path} has invalid records, nothing imported: {json.dumps(exc.messages)}"
        ) from exc
    report = import_features(current_gateway().database, records, source=path.name)
    click.echo(
        f"imported {len(report.imported)} features, skipped {len(report.skipped)} "
        "already present"
        + (f": {', '.join(report.skipped)}" if 0 < len(report.skipped) <= 20 else "")
    )


@click.command("export-features")
@with_database
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True), default="-")
def export_command(path: str) -> None:
    """Write every feature (deleted ones too) as JSON, in the import format.

    Not a backup: each feature as it is now, without its history, change log, tokens or
    webhooks. Back up the database itself (sqlite3 .backup, pg_dump: docs/operations.md,
    "Backups")."""
    from feature_gateway.services.transfer import export_features
    from feature_gateway.shapes.feature_schemas import FeatureMetadataSchema

    rows = FeatureMetadataSchema(many=True).dump(export_features(current_gateway().database))
    if _write_json(rows, path):
        click.echo(f"exported {len(rows)} features to {path}", err=True)


@click.command("openapi")
@with_appcontext
@click.option("--output", "-o", default="-", help="File to write; '-' for stdout")
def openapi_command(output: str) -> None:
    """Write the OpenAPI document (the one served at /openapi.json) as JSON."""
    spec = current_app.extensions["gateway_api"].spec.to_dict()
    if _write_json(spec, output):
        click.echo(f"OpenAPI document written to {output}", err=True)


def _write_json(value: Any, path: str) -> bool:
    """``value`` as indented JSON to the file ``path``, or to stdout for ``-``; whether a
    file was written (a command then says so on stderr, keeping stdout the document)."""
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return False
    Path(path).write_text(text, encoding="utf-8")
    return True


@click.command("lifecycle-diagram")
@click.option("--fenced", is_flag=True, help="As the Markdown block the docs hold")
def lifecycle_diagram_command(fenced: bool) -> None:
    """Print the workflow as a Mermaid state diagram, generated from the lifecycle table."""
    from feature_gateway.domain.lifecycle_diagram import fenced_diagram, mermaid_diagram

    sys.stdout.write(fenced_diagram() if fenced else mermaid_diagram())


@click.group("idempotency")
def idempotency_group() -> None:
    """Stored responses of writes sent with an Idempotency-Key."""


@idempotency_group.command("purge")
@with_database
def idempotency_purge_command() -> None:
    """Delete expired idempotency keys (writes also delete some as they go; schedule this
    where few keyed writes arrive, e.g. daily)."""
    from feature_gateway.services.clock import now_ms
    from feature_gateway.services.idempotency import purge

    removed = purge(current_gateway().database, now_ms())
    click.echo(f"removed {removed} expired idempotency keys")


def register_cli(app: Flask) -> None:
    from feature_gateway.cli_audit import audit_group
    from feature_gateway.cli_tokens import tokens_group
    from feature_gateway.cli_webhooks import webhooks_group

    for command in (
        migrate_command,
        import_command,
        export_command,
        openapi_command,
        lifecycle_diagram_command,
        tokens_group,
        audit_group,
        idempotency_group,
        webhooks_group,
    ):
        app.cli.add_command(command)
