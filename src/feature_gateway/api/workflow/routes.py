"""Workflow endpoints: each moves a feature along its lifecycle and is audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from feature_gateway.api import examples
from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.context import database
from feature_gateway.api.problems import Problems
from feature_gateway.api.revisions import IF_MATCH_PARAMETER, Reply, etag, expected_revisions
from feature_gateway.api.roles import require_role
from feature_gateway.api.workflow.schemas import (
    ApproveSchema,
    DeprecateSchema,
    FixSchema,
    RejectSchema,
    RetireSchema,
    SubmitSchema,
    TestResultSchema,
    TransitionResponseSchema,
)
from feature_gateway.domain.lifecycle import Action
from feature_gateway.services import workflow

blp = ApiBlueprint("workflow", __name__, description="Move features through the lifecycle")


def _run(
    action: Action,
    use_case: Callable[..., workflow.TransitionResult],
    args: dict[str, Any],
    message: str,
) -> Reply:
    role = require_role(action, args.pop("user_role", None))
    result = use_case(database(), role=role, expected_revisions=expected_revisions(), **args)
    payload = {
        "message": message,
        "feature": result.feature,
        "previous_status": result.previous_status,
        "new_status": result.new_status,
    }
    return payload, etag(result.feature.revision)


@blp.route("/ready_test_feature_metadata", methods=["POST"], parameters=[IF_MATCH_PARAMETER])
@blp.arguments(SubmitSchema, example=examples.READY_TEST)
@blp.response(200, TransitionResponseSchema)
@blp.problems(Problems.CHANGE)
def ready_test_feature_metadata(args: dict[str, Any]) -> Reply:
    """Submit a DRAFT feature for testing."""
    return _run(Action.SUBMIT, workflow.submit_feature, args, "Feature submitted for testing")


@blp.route("/test_feature_metadata", methods=["POST"], parameters=[IF_MATCH_PARAMETER])
@blp.arguments(TestResultSchema, example=examples.TEST)
@blp.response(200, TransitionResponseSchema)
@blp.problems(Problems.CHANGE)
def test_feature_metadata(args: dict[str, Any]) -> Reply:
    """Record the external testing system's result."""
    return _run(Action.TEST, workflow.record_test_result, args, "Test result recorded")


@blp.route("/approve_feature_metadata", methods=["POST"], parameters=[IF_MATCH_PARAMETER])
@blp.arguments(ApproveSchema, example=examples.APPROVE)
@blp.response(200, TransitionResponseSchema)
@blp.problems(Problems.CHANGE)
def approve_feature_metadata(args: dict[str, Any]) -> Reply:
    """Approve a tested feature and deploy it (TEST_SUCCEEDED → DEPLOYED)."""
    return _run(Action.APPROVE, workflow.approve_feature, args, "Feature approved and deployed")


@blp.route("/reject_feature_metadata", methods=["POST"], parameters=[IF_MATCH_PARAMETER])
@blp.arguments(RejectSchema, example=examples.REJECT)
@blp.response(200, TransitionResponseSchema)
@blp.problems(Problems.CHANGE)
def reject_feature_metadata(args: dict[str, Any]) -> Reply:
    """Reject a tested feature."""
    return _run(Action.REJECT, workflow.reject_feature, args, "Feature rejected")


@blp.route("/fix_feature_metadata", methods=["POST"], parameters=[IF_MATCH_PARAMETER])
@blp.arguments(FixSchema, example=examples.FIX)
@blp.response(200, TransitionResponseSchema)
@blp.problems(Problems.CHANGE)
def fix_feature_metadata(args: dict[str, Any]) -> Reply:
    """Send a failed or rejected feature back to DRAFT."""
    return _run(Action.FIX, workflow.fix_feature, args, "Feature returned to DRAFT")


@blp.route("/deprecate_feature_metadata", methods=["POST"], parameters=[IF_MATCH_PARAMETER])
@blp.arguments(DeprecateSchema, example=examples.DEPRECATE)
@blp.response(200, TransitionResponseSchema)
@blp.problems(Problems.CHANGE)
def deprecate_feature_metadata(args: dict[str, Any]) -> Reply:
    """Deprecate a deployed feature: still served, listed as deprecated, until retired."""
    return _run(Action.DEPRECATE, workflow.deprecate_feature, args, "Feature deprecated")


@blp.route("/retire_feature_metadata", methods=["POST"], parameters=[IF_MATCH_PARAMETER])
@blp.arguments(RetireSchema, example=examples.RETIRE)
@blp.response(200, TransitionResponseSchema)
@blp.problems(Problems.CHANGE)
def retire_feature_metadata(args: dict[str, Any]) -> Reply:
    """Retire a deprecated feature: no longer served, its name never used again."""
    return _run(Action.RETIRE, workflow.retire_feature, args, "Feature retired")
