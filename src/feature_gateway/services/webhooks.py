"""Webhook management use cases (SPEC §9, role admin): subscribe, list, unsubscribe, and
look at or retry deliveries. Sending them is ``services.webhook_worker``'s job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from feature_gateway.db.scopes import Database
from feature_gateway.db.webhooks import Webhook, WebhookDelivery
from feature_gateway.domain.webhook_targets import TargetRefusedError, parse_target
from feature_gateway.domain.webhooks import (
    DeliveryState,
    new_secret,
    new_webhook_id,
    normalised_event_types,
)
from feature_gateway.errors import DeliveryNotFoundError, ValidationError, WebhookNotFoundError
from feature_gateway.services.clock import now_ms


@dataclass(frozen=True)
class NewWebhook:
    webhook: Webhook
    secret: str  # shown this once


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: Sequence[WebhookDelivery]
    total_count: int


@dataclass(frozen=True)
class DeliveryStats:
    by_state: dict[str, int]
    oldest_pending_age_s: float

    @property
    def pending(self) -> int:
        return self.by_state.get(DeliveryState.PENDING.value, 0)


def delivery_stats(database: Database, now: int | None = None) -> DeliveryStats:
    """The outbox's figures for /metrics: one aggregate query."""
    now = now_ms() if now is None else now
    with database.reading() as uow:
        states = uow.deliveries.by_state()
    _, oldest = states.get(DeliveryState.PENDING.value, (0, None))
    age = 0.0 if oldest is None else max(now - oldest, 0) / 1000
    return DeliveryStats({state: count for state, (count, _) in states.items()}, age)


def create_webhook(
    database: Database,
    *,
    url: str,
    event_types: Sequence[str],
    created_by: str,
    allow_loopback: bool,
    description: str | None = None,
) -> NewWebhook:
    try:
        parse_target(url, allow_loopback=allow_loopback)
    except TargetRefusedError as exc:
        raise ValidationError.for_field("url", str(exc)) from None
    try:
        types = normalised_event_types(event_types)
    except ValueError as exc:
        raise ValidationError.for_field("event_types", str(exc)) from None
    secret = new_secret()
    webhook = Webhook(
        webhook_id=new_webhook_id(),
        url=url,
        description=description,
        secret=secret,
        created_time=now_ms(),
        created_by=created_by,
        active=True,
    )
    webhook.event_types = types
    with database.writing() as uow:
        uow.webhooks.add(webhook)
        uow.commit()
    return NewWebhook(webhook, secret)


def list_webhooks(database: Database) -> Sequence[Webhook]:
    with database.reading() as uow:
        return uow.webhooks.all_by_creation()


def get_webhook(database: Database, webhook_id: str) -> Webhook:
    with database.reading() as uow:
        return _load(uow.webhooks.get(webhook_id), webhook_id)


def delete_webhook(database: Database, webhook_id: str) -> Webhook:
    """Remove the webhook; its pending deliveries are cancelled (deleted with it)."""
    with database.writing() as uow:
        webhook = _load(uow.webhooks.get(webhook_id), webhook_id)
        uow.webhooks.remove(webhook)
        uow.commit()
        return webhook


def list_deliveries(
    database: Database, webhook_id: str, *, state: str | None, limit: int, offset: int
) -> DeliveryPage:
    """The webhook's deliveries, newest first."""
    with database.reading() as uow:
        _load(uow.webhooks.get(webhook_id), webhook_id)
        rows, total = uow.deliveries.page(webhook_id, state, limit, offset)
        return DeliveryPage(rows, total)


def redeliver(database: Database, webhook_id: str, delivery_id: int) -> WebhookDelivery:
    """Queue the delivery again, due now, with a fresh set of attempts. An attempt in
    flight loses its claim: its outcome is not recorded over this request's. A webhook
    deactivated by a 410 Gone is active again: asking for a redelivery says the receiver
    is back."""
    with database.writing() as uow:
        webhook = _load(uow.webhooks.get(webhook_id), webhook_id)
        webhook.active = True
        delivery = uow.deliveries.get(webhook_id, delivery_id)
        if delivery is None:
            raise DeliveryNotFoundError(webhook_id, delivery_id)
        delivery.state = DeliveryState.PENDING.value
        delivery.attempts = 0
        delivery.next_attempt_time = now_ms()
        delivery.claim = None
        uow.commit()
        return delivery


def _load(webhook: Webhook | None, webhook_id: str) -> Webhook:
    if webhook is None:
        raise WebhookNotFoundError(webhook_id)
    return webhook
