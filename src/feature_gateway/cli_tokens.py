"""``feature-gateway tokens create|list|revoke``: API tokens from the command line.

Works in both modes: it is how the first admin token is made (SPEC §7), and the only way
to manage tokens in trust mode. Input goes through the same schema as ``POST /tokens``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from marshmallow import ValidationError

from feature_gateway.cli_context import current_gateway, with_database
from feature_gateway.domain.lifecycle import Role

# Who "created_by" names for tokens made here: an operator at the machine, not a principal.
CLI_ACTOR = "cli"
_DAY_MS = 86_400_000


@click.group("tokens")
def tokens_group() -> None:
    """Create, list and revoke API tokens (both modes)."""


@tokens_group.command("create")
@with_database
@click.option("--principal", required=True, help="Who the token identifies")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="A role the token may act in; repeat for several",
)
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="A group (team) the token's holder belongs to; repeat for several",
)
@click.option("--expires-in-days", type=click.IntRange(min=1), help="Default: never expires")
@click.option("--description", help="What the token is for")
def create_command(
    principal: str,
    roles: tuple[str, ...],
    groups: tuple[str, ...],
    expires_in_days: int | None,
    description: str | None,
) -> None:
    """Issue a token; prints it alone on the last line of stdout (shown only this once)."""
    from feature_gateway.api.tokens.schemas import TokenCreateSchema
    from feature_gateway.services import tokens
    from feature_gateway.services.clock import now_ms

    now = now_ms()
    request: dict[str, Any] = {"principal": principal, "roles": list(roles)}
    if groups:
        request["groups"] = list(groups)
    if expires_in_days is not None:
        request["expires_time"] = now + expires_in_days * _DAY_MS
    if description is not None:
        request["description"] = description
    try:
        checked = TokenCreateSchema().load(request)
    except ValidationError as exc:
        raise click.ClickException(f"invalid token request: {json.dumps(exc.messages)}") from exc
    issued = tokens.create_token(
        current_gateway().database, created_by=CLI_ACTOR, now=now, **checked
    )
    meta = issued.metadata
    click.echo(
        f"token {meta.token_id} for {meta.principal} (roles: {', '.join(meta.roles)}"
        f"{'; groups: ' + ', '.join(meta.groups) if meta.groups else ''}); "
        "store it now, it is not shown again:",
        err=True,
    )
    click.echo(issued.token)


@tokens_group.command("list")
@with_database
@click.option("--json", "as_json", is_flag=True, help="JSON, as GET /tokens returns it")
def list_command(as_json: bool) -> None:
    """Every token's metadata, oldest first; never a token itself."""
    from feature_gateway.api.tokens.schemas import TokenMetadataSchema
    from feature_gateway.services import tokens

    rows = TokenMetadataSchema(many=True).dump(tokens.list_tokens(current_gateway().database))
    if as_json:
        click.echo(json.dumps({"tokens": rows}, indent=2, ensure_ascii=False))
        return
    columns = (
        "token_id",
        "principal",
        "roles",
        "groups",
        "created_time",
        "expires_time",
        "revoked_time",
    )
    lines = [columns] + [tuple(_cell(row[c]) for c in columns) for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    for line in lines:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


@tokens_group.command("revoke")
@with_database
@click.argument("token_id")
def revoke_command(token_id: str) -> None:
    """Revoke a token: refused from its next request on. Revoking twice changes nothing."""
    from feature_gateway.errors import TokenNotFoundError
    from feature_gateway.services import tokens

    try:
        token = tokens.revoke_token(current_gateway().database, token_id)
    except TokenNotFoundError as exc:
        raise click.ClickException(exc.detail) from exc
    revoked = _cell(token.revoked_time)
    click.echo(f"token {token.token_id} of {token.principal} revoked at {revoked}")


def _cell(value: Any) -> str:
    if value is None or value == []:
        return "-"
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, int):  # epoch milliseconds
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)
