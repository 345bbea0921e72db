"""Feature metadata endpoints: create, read, list, update, delete, history."""

from __future__ import annotations

from typing import Any

from flask import Response

from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.context import checked_feature_name
from feature_gateway.api.features.schemas import (
    CreateFeatureSchema,
    DeployedFeaturesSchema,
    DeployedQuerySchema,
    FeaturePageSchema,
    HistorySchema,
    UpdateFeatureSchema,
)
from feature_gateway.api.problems import Problems
from feature_gateway.api.revisions import (
    IF_MATCH_PARAMETER,
    IF_NONE_MATCH_PARAMETER,
    Reply,
    etag,
    expected_revisions,
    not_modified,
    read_freshness,
)
from feature_gateway.api.roles import require_role
from feature_gateway.api.workflow.routes import register_trigger_endpoint
from feature_gateway.db.scopes import Database
from feature_gateway.domain.lifecycle import Action, Status
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.services import catalog, features
from feature_gateway.shapes import examples
from feature_gateway.shapes.feature_schemas import FeatureEnvelopeSchema, FeatureMessageSchema
from feature_gateway.shapes.list_filters import ListFiltersQuerySchema, ListFiltersSchema
from feature_gateway.shapes.role_schemas import FeatureRefSchema, RoleQuerySchema
from feature_gateway.shapes.schema_fields import FEATURE_NAME_PATH_PARAMETER
from feature_gateway.shapes.trigger_endpoints import DELETE_ENDPOINT
from feature_gateway.web.caller import principal
from feature_gateway.web.context import database, settings

blp = ApiBlueprint("features", __name__, description="Define, read, list and edit features")


@blp.route("/create_feature_metadata", methods=["POST"])
@blp.arguments(CreateFeatureSchema, example=examples.CREATE)
@blp.response(201, FeatureMessageSchema, example=examples.CREATED)
@blp.problems(Problems.CREATE)
def create_feature_metadata(args: dict[str, Any], *, db: Database) -> Reply:
    """Define a new feature (status DRAFT)."""
    role = require_role(Action.CREATE, args.pop("user_role", None))
    feature = features.create_feature(
        db, args, role=role, caller=principal(), governance=settings().governance
    )
    payload = {"message": "Feature created successfully", "feature": feature}
    return payload, etag(feature["revision"])


@blp.route("/get_feature_metadata", methods=["POST"], replicated=True)
@blp.arguments(FeatureRefSchema, example=examples.GET)
@blp.response(200, FeatureEnvelopeSchema)
@blp.problems(Problems.READ)
def get_feature_metadata(args: dict[str, Any]) -> Reply:
    """Read one feature by name; its ETag is its revision (see If-Match)."""
    require_role(Action.READ, args.get("user_role"))
    found = features.get_feature_json(database(), args["feature_name"], read_freshness())
    return {"feature": found.fields}, etag(found.revision)


@blp.route(
    "/get_feature_metadata/<feature_name>",
    methods=["GET"],
    parameters=[FEATURE_NAME_PATH_PARAMETER, IF_NONE_MATCH_PARAMETER],
    replicated=True,
)
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, FeatureEnvelopeSchema)
@blp.alt_response(304, description="Not modified: the feature is at the If-None-Match revision")
@blp.problems(Problems.READ_BY_PATH)
def get_feature_metadata_by_path(args: dict[str, Any], feature_name: str) -> Reply | Response:
    """Read one feature by name; its ETag is its revision (see If-Match, If-None-Match)."""
    require_role(Action.READ, args.get("user_role"))
    name = checked_feature_name(feature_name)
    found = features.get_feature_json(database(), name, read_freshness())
    return not_modified(found.revision) or ({"feature": found.fields}, etag(found.revision))


def _list(args: dict[str, Any]) -> features.Page:
    require_role(Action.READ, args.pop("user_role", None))
    return features.list_features_json(database(), FeatureQuery(**args), read_freshness())


@blp.route("/get_all_feature_metadata", methods=["POST"], replicated=True)
@blp.arguments(ListFiltersSchema, example=examples.LIST)
@blp.response(200, FeaturePageSchema)
@blp.problems(Problems.LIST)
def list_feature_metadata(args: dict[str, Any]) -> features.Page:
    """List features with filters, sorting and pagination."""
    return _list(args)


@blp.route("/get_all_feature_metadata", methods=["GET"], replicated=True)
@blp.arguments(ListFiltersQuerySchema, location="query")
@blp.response(200, FeaturePageSchema)
@blp.problems(Problems.LIST_BY_QUERY)
def list_feature_metadata_by_query(args: dict[str, Any]) -> features.Page:
    """List features with filters, sorting and pagination."""
    return _list(args)


@blp.route("/get_deployed_features", methods=["GET"], replicated=True)
@blp.arguments(DeployedQuerySchema, location="query")
@blp.response(200, DeployedFeaturesSchema)
@blp.problems(Problems.LIST_BY_QUERY)
def get_deployed_features(args: dict[str, Any]) -> features.Page:
    """List deployed features; with ``at``, the features served at that time as they were."""
    require_role(Action.READ, args.get("user_role"))
    if args.get("at") is not None:
        at, limit, offset = args["at"], args["limit"], args["offset"]
        return catalog.served_at(database(), at, limit, offset, read_freshness())
    query = FeatureQuery(status=(Status.DEPLOYED,), limit=args["limit"], offset=args["offset"])
    return features.list_features_json(database(), query, read_freshness())


@blp.route("/update_feature_metadata", methods=["POST"], parameters=[IF_MATCH_PARAMETER])
@blp.arguments(UpdateFeatureSchema, example=examples.UPDATE)
@blp.response(200, FeatureMessageSchema)
@blp.problems(Problems.CHANGE)
def update_feature_metadata(args: dict[str, Any], *, db: Database) -> Reply:
    """Edit a feature; changing query or types of a non-DRAFT feature resets it to DRAFT."""
    role = require_role(Action.UPDATE, args.pop("user_role", None))
    name, actor = args.pop("feature_name"), args.pop("last_updated_by")
    feature = features.update_feature(
        db,
        name,
        args,
        last_updated_by=actor,
        role=role,
        caller=principal(),
        governance=settings().governance,
        expected_revisions=expected_revisions(),
    )
    payload = {"message": "Feature updated successfully", "feature": feature}
    return payload, etag(feature["revision"])


register_trigger_endpoint(blp, DELETE_ENDPOINT, FeatureMessageSchema, with_statuses=False)


def _history(feature_name: str, declared_role: str | None) -> dict[str, Any]:
    require_role(Action.READ, declared_role)
    entries = features.feature_history(database(), feature_name, read_freshness())
    return {"feature_name": feature_name, "history": entries}


@blp.route(
    "/features/<feature_name>/history",
    methods=["GET"],
    parameters=[FEATURE_NAME_PATH_PARAMETER],
    replicated=True,
)
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, HistorySchema)
@blp.problems(Problems.READ_BY_PATH)
def feature_history(args: dict[str, Any], feature_name: str) -> dict[str, Any]:
    """The audit trail of a feature's status changes, oldest first."""
    return _history(checked_feature_name(feature_name), args.get("user_role"))


@blp.route("/get_feature_history", methods=["POST"], replicated=True)
@blp.arguments(FeatureRefSchema, example=examples.GET)
@blp.response(200, HistorySchema)
@blp.problems(Problems.READ)
def get_feature_history(args: dict[str, Any]) -> dict[str, Any]:
    """The audit trail of a feature's status changes, oldest first."""
    return _history(args["feature_name"], args.get("user_role"))
