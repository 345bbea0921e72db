"""Response shape of the workflow (status transition) endpoints.

Their request shapes are built from the trigger each endpoint fires
(``api.feature_schemas.trigger_request_schema``).
"""

from __future__ import annotations

from feature_gateway.api.feature_schemas import FeatureMessageSchema
from feature_gateway.api.schema_fields import Choice
from feature_gateway.domain.lifecycle import Status


class TransitionResponseSchema(FeatureMessageSchema):
    previous_status = Choice(Status)
    new_status = Choice(Status)
