"""Response shape of the workflow (status transition) endpoints.

Their request shapes are built from the trigger each endpoint fires
(``shapes.feature_schemas.trigger_request_schema``).
"""

from __future__ import annotations

from feature_gateway.domain.lifecycle import Status
from feature_gateway.shapes.feature_schemas import FeatureMessageSchema
from feature_gateway.shapes.schema_fields import Choice


class TransitionResponseSchema(FeatureMessageSchema):
    previous_status = Choice(Status)
    new_status = Choice(Status)
