"""Webhook subscriptions and their deliveries (SPEC §9): the tables and their queries.

``webhook_deliveries`` is a transactional outbox: the unit of work inserts one row per
matching active webhook in the transaction that writes the change-log entry, and the
delivery worker (``services.webhook_worker``) sends them. A worker *claims* a due row by
bumping its ``next_attempt_time`` past the attempt's timeout (its lease) and stamping it
with a fresh ``claim``; only the holder of the current claim may record the outcome, so a
worker whose lease expired (killed, or stuck) can no longer overwrite a newer attempt.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    delete,
    func,
    insert,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column

from feature_gateway.db.base import Base
from feature_gateway.db.batches import Batch, Sent
from feature_gateway.db.catalog_models import LOG_ID, FeatureChange
from feature_gateway.db.compiled import compiled_once
from feature_gateway.db.models import ACTOR
from feature_gateway.domain.events import event_id, event_type, matches
from feature_gateway.domain.webhooks import DeliveryState

TYPE_SEPARATOR = ","
MAX_ERROR_LENGTH = 500


class Webhook(Base):
    __tablename__ = "webhooks"

    webhook_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    # Event type names joined by commas, or "*"; a handful at most.
    type_names: Mapped[str] = mapped_column("event_types", Text)
    description: Mapped[str | None] = mapped_column(Text)
    # The signing key must be used, not just checked, so it is stored as the receiver got it.
    secret: Mapped[str] = mapped_column(String(128))
    created_time: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(ACTOR)
    active: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (Index("ix_webhooks_created_time", "created_time"),)

    @property
    def event_types(self) -> list[str]:
        return self.type_names.split(TYPE_SEPARATOR)

    @event_types.setter
    def event_types(self, names: Sequence[str]) -> None:
        self.type_names = TYPE_SEPARATOR.join(names)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    delivery_id: Mapped[int] = mapped_column(LOG_ID, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.webhook_id", ondelete="CASCADE"))
    change_id: Mapped[int] = mapped_column(ForeignKey("feature_changes.id", ondelete="RESTRICT"))
    event_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_time: Mapped[int | None] = mapped_column(BigInteger)  # epoch ms; null: done
    delivered_time: Mapped[int | None] = mapped_column(BigInteger)
    created_time: Mapped[int] = mapped_column(BigInteger)
    claim: Mapped[str | None] = mapped_column(String(32))  # the current attempt's holder

    __table_args__ = (
        # The worker's question, "which pending deliveries are due", is a range scan.
        Index("ix_webhook_deliveries_state_next_attempt_time", "state", "next_attempt_time"),
        Index("ix_webhook_deliveries_webhook_id_delivery_id", "webhook_id", "delivery_id"),
        {"sqlite_autoincrement": True},
    )

    @property
    def event_id(self) -> str:
        return event_id(self.change_id)


@dataclass(frozen=True)
class Claimed:
    """One attempt a worker holds: what it sends, and the claim that lets it record it."""

    delivery_id: int
    claim: str
    attempts: int  # including this one
    webhook_id: str
    url: str
    secret: str
    change: FeatureChange


class WebhookRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, webhook: Webhook) -> None:
        self.session.add(webhook)

    def get(self, webhook_id: str) -> Webhook | None:
        return self.session.get(Webhook, webhook_id)

    def all_by_creation(self) -> Sequence[Webhook]:
        query = select(Webhook).order_by(Webhook.created_time, Webhook.webhook_id)
        return self.session.scalars(query).all()

    def remove(self, webhook: Webhook) -> None:
        """Delete the webhook and every delivery of it, pending ones included."""
        self.session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.webhook_id)
        )
        self.session.delete(webhook)

    def deactivate(self, webhook_id: str) -> None:
        self.session.execute(
            update(Webhook).where(Webhook.webhook_id == webhook_id).values(active=False)
        )


_ACTIVE_SUBSCRIPTIONS = select(Webhook.webhook_id, Webhook.type_names).where(
    Webhook.active.is_(True)
)
# The same, after a row of NULLs whose subquery takes the transaction-level advisory lock
# ``key`` (PostgreSQL): the branches of a UNION ALL run in order, and the webhooks are read
# in the statement's snapshot, taken before the lock is waited for, as when the read and the
# lock were two statements; one round trip less.
_LOCK = select(func.pg_advisory_xact_lock(bindparam("key"))).subquery("log_lock")
_LOCKING = union_all(
    select(null().label("webhook_id"), null().label("type_names")).select_from(_LOCK),
    _ACTIVE_SUBSCRIPTIONS,
).subquery("subscriptions")
_ACTIVE_SUBSCRIPTIONS_THEN_LOCK = select(_LOCKING.c.webhook_id, _LOCKING.c.type_names)


def _subscriptions(cursor: Any) -> list[tuple[str, list[str]]]:
    return [
        (webhook_id, names.split(TYPE_SEPARATOR))
        for webhook_id, names in cursor.fetchall()
        if webhook_id is not None
    ]


class DeliveryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def active_subscriptions(
        self, batch: Batch, then_lock: int | None = None
    ) -> Sent[list[tuple[str, list[str]]]]:
        """(webhook_id, event_types) of every active webhook: what the outbox matches, read
        in ``batch`` (on every write). ``then_lock``: the key of a PostgreSQL advisory lock
        the same statement takes, held until commit, after the webhooks are read."""
        if then_lock is None:
            statement, values = _ACTIVE_SUBSCRIPTIONS, {}
        else:
            statement, values = _ACTIVE_SUBSCRIPTIONS_THEN_LOCK, {"key": then_lock}
        compiled = compiled_once(statement, batch.dialect)
        return batch.run(compiled.sql, compiled.parameters(values), _subscriptions)

    def enqueue(
        self, entries: Sequence[FeatureChange], subscriptions: list[tuple[str, list[str]]]
    ) -> int:
        """Queue one delivery per (entry, matching webhook); the entries must be flushed."""
        rows = [
            {
                "webhook_id": webhook_id,
                "change_id": entry.id,
                "event_type": event_type(entry.action),
                "state": DeliveryState.PENDING.value,
                "attempts": 0,
                "next_attempt_time": entry.timestamp,
                "created_time": entry.timestamp,
            }
            for entry in entries
            for webhook_id, types in subscriptions
            if matches(types, event_type(entry.action))
        ]
        if rows:
            self.session.execute(insert(WebhookDelivery), rows)
        return len(rows)

    def page(
        self, webhook_id: str, state: str | None, limit: int, offset: int
    ) -> tuple[Sequence[WebhookDelivery], int]:
        conditions = [WebhookDelivery.webhook_id == webhook_id]
        if state is not None:
            conditions.append(WebhookDelivery.state == state)
        rows = self.session.scalars(
            select(WebhookDelivery)
            .where(*conditions)
            .order_by(WebhookDelivery.delivery_id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        total = self.session.scalar(select(func.count()).where(*conditions)) or 0
        return rows, total

    def get(self, webhook_id: str, delivery_id: int) -> WebhookDelivery | None:
        row = self.session.get(WebhookDelivery, delivery_id)
        return row if row is not None and row.webhook_id == webhook_id else None

    def claim_due(self, due_by: int, now: int, lease_ms: int, limit: int) -> list[Claimed]:
        """Claim up to ``limit`` deliveries of active webhooks due by ``due_by``, for one
        attempt each.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent workers claim disjoint rows
        without waiting for each other. SQLite: the write transaction (BEGIN IMMEDIATE)
        already excludes every other writer, and the FOR UPDATE is not rendered. Either way
        the lease (``next_attempt_time`` moved to now + lease) keeps the rows from being
        claimed again until the attempt is over or its worker is presumed dead.
        """
        due = (
            select(WebhookDelivery.delivery_id)
            .join(Webhook, Webhook.webhook_id == WebhookDelivery.webhook_id)
            .where(
                WebhookDelivery.state == DeliveryState.PENDING.value,
                WebhookDelivery.next_attempt_time <= due_by,
                Webhook.active.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_time, WebhookDelivery.delivery_id)
            .limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
        self._without_waiting_for_disk()
        ids = list(self.session.scalars(due))
        claimed: list[Claimed] = []
        for delivery_id in ids:
            claim = secrets.token_hex(8)
            self.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.delivery_id == delivery_id)
                .values(
                    claim=claim,
                    attempts=WebhookDelivery.attempts + 1,
                    next_attempt_time=now + lease_ms,
                )
            )
        if not ids:
            return claimed
        rows = self.session.execute(
            select(WebhookDelivery, Webhook.url, Webhook.secret, FeatureChange)
            .join(Webhook, Webhook.webhook_id == WebhookDelivery.webhook_id)
            .join(FeatureChange, FeatureChange.id == WebhookDelivery.change_id)
            .where(WebhookDelivery.delivery_id.in_(ids))
            .order_by(WebhookDelivery.next_attempt_time, WebhookDelivery.delivery_id)
            .options(joinedload(FeatureChange.comment))  # a comment's event carries it
        )
        for delivery, url, secret, change in rows:
            held = Claimed(
                delivery.delivery_id,
                delivery.claim or "",
                delivery.attempts,
                delivery.webhook_id,
                url,
                secret,
                change,
            )
            claimed.append(held)
        return claimed

    def record(self, claimed: Claimed, **values: object) -> bool:
        """Record an attempt's outcome, if the claim is still the current one."""
        self._without_waiting_for_disk()
        result = self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.delivery_id == claimed.delivery_id,
                WebhookDelivery.claim == claimed.claim,
            )
            .values(claim=None, **values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def _without_waiting_for_disk(self) -> None:
        """PostgreSQL: this transaction's commit does not wait for its WAL flush.

        Safe for claims and outcomes only: a database crash may lose the last few, and a
        lost claim or outcome only means the delivery is sent again (at least once, which
        receivers deduplicate on webhook-id). It halves the worker's time per delivery.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SET LOCAL synchronous_commit TO OFF"))

    def by_state(self) -> dict[str, tuple[int, int]]:
        """State → (deliveries in it, created_time of the oldest): one aggregate query."""
        rows = self.session.execute(
            select(
                WebhookDelivery.state, func.count(), func.min(WebhookDelivery.created_time)
            ).group_by(WebhookDelivery.state)
        )
        return {state: (int(count), oldest) for state, count, oldest in rows}
