"""Workflow endpoints: each fires one lifecycle trigger on a feature and is audited.

One view per trigger in ``WORKFLOW_ENDPOINTS``, all made by ``register_trigger_endpoint``
(which also makes the features blueprint's delete).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema

from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.problems import Problems
from feature_gateway.api.revisions import IF_MATCH_PARAMETER, Reply, etag, expected_revisions
from feature_gateway.api.roles import require_role
from feature_gateway.api.workflow.schemas import TransitionResponseSchema
from feature_gateway.db.scopes import Database
from feature_gateway.domain.lifecycle import TRIGGERS
from feature_gateway.services import workflow
from feature_gateway.shapes.feature_schemas import trigger_request_schema
from feature_gateway.shapes.trigger_endpoints import WORKFLOW_ENDPOINTS, TriggerEndpoint
from feature_gateway.web.caller import principal
from feature_gateway.web.context import settings

blp = ApiBlueprint("workflow", __name__, description="Move features through the lifecycle")


def register_trigger_endpoint(
    blueprint: ApiBlueprint,
    endpoint: TriggerEndpoint,
    response_schema: type[Schema],
    *,
    with_statuses: bool,
) -> None:
    """Declare the POST endpoint firing ``endpoint.trigger`` on ``blueprint``."""
    action = TRIGGERS[endpoint.trigger].action
    if action is None:
        raise ValueError(f"{endpoint.trigger} is fired by the service, not by callers")

    def view(args: dict[str, Any], *, db: Database) -> Reply:
        role = require_role(action, args.pop("user_role", None))
        result = workflow.fire_trigger(
            db,
            endpoint.trigger,
            args.pop("feature_name"),
            args,
            role=role,
            caller=principal(),
            expected_revisions=expected_revisions(),
            quiet_days=settings().retire_quiet_days,
        )
        payload: dict[str, Any] = {"message": endpoint.message, "feature": result.feature}
        if with_statuses:
            payload.update(previous_status=result.previous_status, new_status=result.new_status)
        return payload, etag(result.feature["revision"])

    view.__name__ = view.__qualname__ = endpoint.view_name
    view.__doc__ = endpoint.summary
    request_schema = trigger_request_schema(endpoint.trigger, endpoint.schema_name)
    decorated = blueprint.problems(Problems.CHANGE)(view)
    decorated = blueprint.response(200, response_schema)(decorated)
    decorated = blueprint.arguments(request_schema, example=endpoint.example)(decorated)
    blueprint.route(endpoint.path, methods=["POST"], parameters=[IF_MATCH_PARAMETER])(decorated)


for _endpoint in WORKFLOW_ENDPOINTS:
    register_trigger_endpoint(blp, _endpoint, TransitionResponseSchema, with_statuses=True)
