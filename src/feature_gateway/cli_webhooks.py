"""``feature-gateway webhooks deliver|create|list|delete``: the delivery worker, and webhook
management from the command line (the only way in trust mode, as for tokens)."""

from __future__ import annotations

import json
import signal
import threading
from types import FrameType
from typing import Any

import click

from feature_gateway.cli_context import current_gateway, with_database
from feature_gateway.domain.events import ALL_EVENT_TYPES, EVENT_TYPES

CLI_ACTOR = "cli"


@click.group("webhooks")
def webhooks_group() -> None:
    """Run the delivery worker; create, list and delete webhooks (both modes)."""


@webhooks_group.command("deliver")
@with_database
@click.option("--once", is_flag=True, help="Send what is due now, then exit")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve this worker's attempt counters for Prometheus on this port",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="The address the metrics port listens on (unauthenticated: 0.0.0.0 only where "
    "the network keeps strangers out, e.g. a container's own port)",
)
def deliver_command(once: bool, metrics_port: int | None, metrics_host: str) -> None:
    """Send queued webhook deliveries until SIGTERM (finishing the attempt in flight)."""
    from feature_gateway.services.webhook_worker import Worker

    gateway = current_gateway()
    worker = Worker(gateway.database, gateway.settings)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        try:
            start_http_server(metrics_port, addr=metrics_host)
        except OSError as exc:
            raise click.ClickException(
                f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc}"
            ) from None

    def _stop(signum: int, _frame: FrameType | None) -> None:
        click.echo(f"signal {signum}: stopping after the attempt in flight", err=True)
        # From another thread: the handler runs in the main thread, which may hold the stop
        # event's own (non-reentrant) lock inside Event.wait() when the signal lands; setting
        # it here would then wait for itself forever (a worker that never exits on SIGTERM).
        threading.Thread(target=worker.stop, name="webhook-worker-stop").start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    attempts = worker.run(once=once)
    click.echo(f"webhook worker stopped after {attempts} attempts", err=True)


@webhooks_group.command("create")
@with_database
@click.option("--url", required=True, help="http(s) URL the events are POSTed to")
@click.option(
    "--event-type",
    "event_types",
    multiple=True,
    required=True,
    type=click.Choice([*EVENT_TYPES, ALL_EVENT_TYPES]),
    help="An event type to send; repeat for several, or '*' for all",
)
@click.option("--description", help="What the webhook is for")
def create_command(url: str, event_types: tuple[str, ...], description: str | None) -> None:
    """Create a webhook; prints its secret alone on the last line (shown only this once)."""
    from feature_gateway.errors import ValidationError
    from feature_gateway.services import webhooks

    gateway = current_gateway()
    try:
        created = webhooks.create_webhook(
            gateway.database, url=url, event_types=event_types, description=description,
            created_by=CLI_ACTOR, allow_loopback=gateway.settings.webhook_allow_loopback,
        )  # fmt: skip
    except ValidationError as exc:
        raise click.ClickException(exc.detail) from exc
    click.echo(
        f"webhook {created.webhook.webhook_id} for {', '.join(created.webhook.event_types)}"
    )
    click.echo(created.secret)


@webhooks_group.command("list")
@with_database
@click.option("--json", "as_json", is_flag=True, help="One JSON document")
def list_command(as_json: bool) -> None:
    """Every webhook (never a secret)."""
    from feature_gateway.services import webhooks

    rows: list[dict[str, Any]] = [
        {"webhook_id": w.webhook_id, "url": w.url, "event_types": w.event_types,
         "active": w.active, "description": w.description, "created_time": w.created_time}
        for w in webhooks.list_webhooks(current_gateway().database)
    ]  # fmt: skip
    if as_json:
        click.echo(json.dumps({"webhooks": rows}, indent=2))
        return
    for row in rows:
        state = "active" if row["active"] else "inactive"
        click.echo(f"{row['webhook_id']}  {state}  {','.join(row['event_types'])}  {row['url']}")


@webhooks_group.command("delete")
@with_database
@click.argument("webhook_id")
def delete_command(webhook_id: str) -> None:
    """Delete a webhook; its pending deliveries are cancelled."""
    from feature_gateway.errors import WebhookNotFoundError
    from feature_gateway.services import webhooks

    try:
        webhooks.delete_webhook(current_gateway().database, webhook_id)
    except WebhookNotFoundError as exc:
        raise click.ClickException(exc.detail) from exc
    click.echo(f"webhook {webhook_id} deleted")
