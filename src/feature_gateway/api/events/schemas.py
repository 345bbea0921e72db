"""Request and response shapes of the event feed (SPEC §9)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from feature_gateway.api.catalog.schemas import ChangeEntrySchema
from feature_gateway.domain.events import (
    CURSOR_PATTERN,
    DEFAULT_PAGE,
    EVENT_ID_PATTERN,
    EVENT_TYPES,
    MAX_PAGE,
)
from feature_gateway.domain.lifecycle import Status
from feature_gateway.shapes.catalog_fields import CommaSeparated, choices_pattern
from feature_gateway.shapes.role_schemas import UserRole
from feature_gateway.shapes.schema_fields import Choice, FeatureName, QueryInteger, StrictSchema

_CURSOR = {"description": "Opaque: pass a next_cursor unchanged", "pattern": CURSOR_PATTERN}


class EventsQuerySchema(StrictSchema):
    after = fields.String(
        metadata={**_CURSOR, "description": "Continue after this cursor (a next_cursor); "
                  "without it the feed starts at the beginning"},
    )  # fmt: skip
    limit = QueryInteger(
        load_default=DEFAULT_PAGE,
        validate=validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": "Most events to return"},
    )
    type = CommaSeparated(
        Choice(EVENT_TYPES),
        choices_pattern(EVENT_TYPES),
        metadata={"description": "Only events of these types (comma-separated)"},
    )
    feature_name = FeatureName(metadata={"description": "Only events of this feature"})
    user_role = UserRole()


class EventCommentSchema(Schema):
    comment_id = fields.Integer(
        required=True, metadata={"description": "As GET comments lists it"}
    )
    body = fields.String(required=True)


class EventSchema(ChangeEntrySchema):
    id = fields.String(
        required=True,
        metadata={"description": "Unique and opaque; the webhook-id of its webhook "
                  "deliveries", "pattern": EVENT_ID_PATTERN},
    )  # fmt: skip
    type = Choice(EVENT_TYPES, required=True, metadata={"description": '"feature." + action'})
    feature_name = fields.String(required=True)
    previous_status = Choice(
        Status,
        required=True,
        allow_none=True,
        metadata={"description": "null for a feature's first entry"},
    )
    new_status = Choice(Status, required=True)
    comment = fields.Nested(
        EventCommentSchema,
        metadata={"description": "Only in feature.comment events: the comment (its author is "
                  "the actor; a comment changes nothing, so the revision and status are the "
                  "feature's as they were)"},
    )  # fmt: skip


class EventsSchema(Schema):
    events = fields.List(
        fields.Nested(EventSchema), required=True, metadata={"description": "In commit order"}
    )
    next_cursor = fields.String(
        required=True,
        metadata={**_CURSOR, "description": "Ask with after=this next; the given cursor "
                  "when nothing is new"},
    )  # fmt: skip
