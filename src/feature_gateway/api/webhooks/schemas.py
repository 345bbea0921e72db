"""Request and response shapes of webhook management (SPEC §9)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from feature_gateway.domain.events import ALL_EVENT_TYPES, EVENT_ID_PATTERN, EVENT_TYPES
from feature_gateway.domain.webhook_targets import MAX_URL_LENGTH
from feature_gateway.domain.webhooks import (
    SECRET_PREFIX,
    WEBHOOK_ID_PATTERN,
    DeliveryState,
)
from feature_gateway.shapes.page_schemas import PageQueryFields
from feature_gateway.shapes.role_schemas import UserRole
from feature_gateway.shapes.schema_fields import MAX_NOTE_LENGTH, Choice, StrictSchema, Text

_TIME = {"description": "Epoch milliseconds"}
# What JSON Schema cannot state of a target (no loopback, no link-local, a valid port):
# a format of its own, as the SQL query has (the fuzzer generates valid ones for it).
WEBHOOK_URL_FORMAT = "webhook-url"
_TYPES = (*EVENT_TYPES, ALL_EVENT_TYPES)
MAX_EVENT_TYPES = len(_TYPES)


class WebhookCreateSchema(StrictSchema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_URL_LENGTH),
        metadata={"description": "http(s) URL the events are POSTed to; no credentials, "
                  "no link-local or (unless allowed) loopback target",
                  "format": WEBHOOK_URL_FORMAT,
                  "example": "https://deploy.example.com/hooks/feature-gateway"},
    )  # fmt: skip
    event_types = fields.List(
        Choice(_TYPES),
        required=True,
        validate=validate.Length(min=1, max=MAX_EVENT_TYPES),
        metadata={
            "description": 'Event types to receive, or ["*"] for every type (given '
            "with others, it still means every type)"
        },
    )
    description = Text(MAX_NOTE_LENGTH, metadata={"description": "What the webhook is for"})
    user_role = UserRole()


class WebhookSchema(Schema):
    webhook_id = fields.String(required=True, metadata={"pattern": WEBHOOK_ID_PATTERN})
    url = fields.String(required=True)
    event_types = fields.List(Choice(_TYPES), required=True)
    description = fields.String(required=True, allow_none=True)
    created_time = fields.Integer(required=True, metadata=_TIME)
    created_by = fields.String(required=True)
    active = fields.Boolean(
        required=True,
        metadata={"description": "false after the receiver answered 410 Gone; a "
                  "redelivery request makes it active again"},
    )  # fmt: skip


class NewWebhookSchema(Schema):
    webhook = fields.Nested(WebhookSchema, required=True)
    secret = fields.String(
        required=True,
        metadata={
            "description": "The signing secret: shown this once",
            "pattern": f"^{SECRET_PREFIX}[A-Za-z0-9+/]{{32,}}={{0,2}}$",
        },
    )


class WebhookEnvelopeSchema(Schema):
    webhook = fields.Nested(WebhookSchema, required=True)


class WebhookListSchema(Schema):
    webhooks = fields.List(fields.Nested(WebhookSchema), required=True)


class DeliveriesQuerySchema(PageQueryFields):
    state = Choice(DeliveryState, metadata={"description": "Only deliveries in this state"})
    user_role = UserRole()


class DeliverySchema(Schema):
    delivery_id = fields.Integer(required=True)
    event_id = fields.String(required=True, metadata={"pattern": EVENT_ID_PATTERN})
    event_type = Choice(EVENT_TYPES, required=True)
    state = Choice(DeliveryState, required=True)
    attempts = fields.Integer(required=True, metadata={"description": "Attempts made so far"})
    last_status_code = fields.Integer(
        required=True, allow_none=True, metadata={"description": "The receiver's last answer"}
    )
    last_error = fields.String(
        required=True, allow_none=True, metadata={"description": "Why the last attempt failed"}
    )
    next_attempt_time = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Epoch ms; null when done"}
    )
    delivered_time = fields.Integer(required=True, allow_none=True, metadata=_TIME)
    created_time = fields.Integer(required=True, metadata=_TIME)


class DeliveryListSchema(Schema):
    deliveries = fields.List(
        fields.Nested(DeliverySchema), required=True, metadata={"description": "Newest first"}
    )
    total_count = fields.Integer(required=True, metadata={"description": "All matches"})


class RedeliverBodySchema(StrictSchema):
    user_role = UserRole()


class RedeliverySchema(Schema):
    delivery = fields.Nested(DeliverySchema, required=True)


WEBHOOK_ID_PATH_PARAMETER: dict[str, Any] = {
    "in": "path",
    "name": "webhook_id",
    "required": True,
    "description": "The webhook's id",
    "schema": {"type": "string", "pattern": WEBHOOK_ID_PATTERN},
}
DELIVERY_ID_PATTERN = "^[1-9][0-9]{0,18}$"
MAX_DELIVERY_ID = 2**63 - 1
DELIVERY_ID_PATH_PARAMETER: dict[str, Any] = {
    "in": "path",
    "name": "delivery_id",
    "required": True,
    "description": "The delivery's id",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DELIVERY_ID},
}
CREATE_EXAMPLE = {
    "url": "https://deploy.example.com/hooks/feature-gateway",
    "event_types": ["feature.approve"],
    "description": "deployment tooling",
}
