"""Request and response shapes of the workflow (status transition) endpoints."""

from __future__ import annotations

from feature_gateway.api.common_schemas import (
    MAX_NOTE_LENGTH,
    Actor,
    Choice,
    FeatureMessageSchema,
    FeatureName,
    FeatureRefSchema,
    Text,
)
from feature_gateway.domain.lifecycle import TEST_RESULTS, Status


class SubmitSchema(FeatureRefSchema):
    submitted_by = Actor(required=True)


class TestResultSchema(FeatureRefSchema):
    test_result = Choice(TEST_RESULTS, required=True)
    tested_by = Actor(required=True)
    test_notes = Text(MAX_NOTE_LENGTH)


class ApproveSchema(FeatureRefSchema):
    approved_by = Actor(required=True)
    approval_notes = Text(MAX_NOTE_LENGTH)


class RejectSchema(FeatureRefSchema):
    rejected_by = Actor(required=True)
    rejection_reason = Text(MAX_NOTE_LENGTH, required=True)


class FixSchema(FeatureRefSchema):
    fixed_by = Actor(required=True)
    fix_description = Text(MAX_NOTE_LENGTH, required=True)


class DeprecateSchema(FeatureRefSchema):
    deprecated_by = Actor(required=True)
    deprecation_reason = Text(MAX_NOTE_LENGTH, required=True)
    replaced_by = FeatureName(metadata={"description": "An existing feature to use instead"})


class RetireSchema(FeatureRefSchema):
    retired_by = Actor(required=True)
    retirement_reason = Text(MAX_NOTE_LENGTH)


class TransitionResponseSchema(FeatureMessageSchema):
    previous_status = Choice(Status)
    new_status = Choice(Status)
