"""Webhook management (role admin, token mode only; SPEC §9).

In trust mode every one of these answers 403 naming the CLI, as token management does:
a claimed admin must not choose where the service sends its events.
"""

from __future__ import annotations

import re
from typing import Any

from feature_gateway.api.access import NO_STORE, NO_STORE_DOC, token_mode_only
from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.context import checked_path_id
from feature_gateway.api.problems import Problems
from feature_gateway.api.revisions import Reply
from feature_gateway.api.roles import acting_admin
from feature_gateway.api.webhooks.schemas import (
    CREATE_EXAMPLE,
    DELIVERY_ID_PATH_PARAMETER,
    DELIVERY_ID_PATTERN,
    MAX_DELIVERY_ID,
    WEBHOOK_ID_PATH_PARAMETER,
    DeliveriesQuerySchema,
    DeliveryListSchema,
    NewWebhookSchema,
    RedeliverBodySchema,
    RedeliverySchema,
    WebhookCreateSchema,
    WebhookEnvelopeSchema,
    WebhookListSchema,
)
from feature_gateway.db.scopes import Database
from feature_gateway.domain.lifecycle import Action
from feature_gateway.domain.webhooks import WEBHOOK_ID_PATTERN
from feature_gateway.errors import ValidationError
from feature_gateway.services import webhooks
from feature_gateway.shapes.role_schemas import RoleQuerySchema
from feature_gateway.web.context import database, settings

blp = ApiBlueprint("webhooks", __name__, description="Webhooks (role admin, token mode)")

_ONE: dict[str, Any] = {"parameters": [WEBHOOK_ID_PATH_PARAMETER]}
_DELIVERY: dict[str, Any] = {"parameters": [WEBHOOK_ID_PATH_PARAMETER, DELIVERY_ID_PATH_PARAMETER]}


def _checked_id(webhook_id: str) -> str:
    return checked_path_id(
        "webhook_id", webhook_id, WEBHOOK_ID_PATTERN, "Must be wh_ and 16 lower-case hex digits."
    )


def _checked_delivery_id(delivery_id: str) -> int:
    # A string in the route, checked here: in trust mode the 403 comes first, as for the
    # webhook id, instead of a routing 404 for what is not a number.
    if not re.fullmatch(DELIVERY_ID_PATTERN, delivery_id) or int(delivery_id) > MAX_DELIVERY_ID:
        raise ValidationError.for_field(
            "delivery_id", "Must be a delivery's id: a positive number."
        )
    return int(delivery_id)


@token_mode_only
@blp.route("/webhooks", methods=["POST"])
@blp.arguments(WebhookCreateSchema, example=CREATE_EXAMPLE)
@blp.response(201, NewWebhookSchema, headers=NO_STORE_DOC)
@blp.problems(Problems.WEBHOOK_CREATE)
def create_webhook(args: dict[str, Any], *, db: Database) -> Reply:
    """Subscribe a URL to events; the response is the only time the secret is shown."""
    admin = acting_admin(Action.MANAGE_WEBHOOKS, args.pop("user_role", None))
    created = webhooks.create_webhook(
        db, created_by=admin, allow_loopback=settings().webhook_allow_loopback, **args
    )
    return {"webhook": created.webhook, "secret": created.secret}, NO_STORE


@token_mode_only
@blp.route("/webhooks", methods=["GET"])
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, WebhookListSchema, headers=NO_STORE_DOC)
@blp.problems(Problems.WEBHOOK_LIST)
def list_webhooks(args: dict[str, Any]) -> Reply:
    """Every webhook, oldest first (never a secret)."""
    acting_admin(Action.MANAGE_WEBHOOKS, args.get("user_role"))
    return {"webhooks": webhooks.list_webhooks(database())}, NO_STORE


@token_mode_only
@blp.route("/webhooks/<webhook_id>", methods=["GET"], **_ONE)
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, WebhookEnvelopeSchema, headers=NO_STORE_DOC)
@blp.problems(Problems.WEBHOOK_ONE)
def get_webhook(args: dict[str, Any], webhook_id: str) -> Reply:
    """One webhook (never its secret)."""
    acting_admin(Action.MANAGE_WEBHOOKS, args.get("user_role"))
    return {"webhook": webhooks.get_webhook(database(), _checked_id(webhook_id))}, NO_STORE


@token_mode_only
@blp.route("/webhooks/<webhook_id>", methods=["DELETE"], **_ONE)
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, WebhookEnvelopeSchema, headers=NO_STORE_DOC)
@blp.problems(Problems.WEBHOOK_ONE)
def delete_webhook(args: dict[str, Any], webhook_id: str) -> Reply:
    """Unsubscribe: nothing more is sent, pending deliveries are cancelled."""
    acting_admin(Action.MANAGE_WEBHOOKS, args.get("user_role"))
    return {"webhook": webhooks.delete_webhook(database(), _checked_id(webhook_id))}, NO_STORE


@token_mode_only
@blp.route("/webhooks/<webhook_id>/deliveries", methods=["GET"], **_ONE)
@blp.arguments(DeliveriesQuerySchema, location="query")
@blp.response(200, DeliveryListSchema, headers=NO_STORE_DOC)
@blp.problems(Problems.WEBHOOK_ONE)
def list_deliveries(args: dict[str, Any], webhook_id: str) -> Reply:
    """The webhook's deliveries, newest first, optionally of one state."""
    acting_admin(Action.MANAGE_WEBHOOKS, args.get("user_role"))
    page = webhooks.list_deliveries(
        database(), _checked_id(webhook_id), state=args.get("state"),
        limit=args["limit"], offset=args["offset"],
    )  # fmt: skip
    return {"deliveries": page.deliveries, "total_count": page.total_count}, NO_STORE


@token_mode_only
@blp.route(
    "/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver", methods=["POST"], **_DELIVERY
)
@blp.arguments(RedeliverBodySchema, example={})
@blp.response(202, RedeliverySchema, headers=NO_STORE_DOC)
@blp.problems(Problems.WEBHOOK_REDELIVER)
def redeliver(args: dict[str, Any], webhook_id: str, delivery_id: str, *, db: Database) -> Reply:
    """Send the delivery again soon (state pending, attempts from zero)."""
    acting_admin(Action.MANAGE_WEBHOOKS, args.get("user_role"))
    delivery = webhooks.redeliver(db, _checked_id(webhook_id), _checked_delivery_id(delivery_id))
    return {"delivery": delivery}, NO_STORE
