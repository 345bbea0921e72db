"""Catalog endpoints: the versions of a feature, a new version, the change log, the diff,
who reads it."""

from __future__ import annotations

from typing import Any

from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.catalog.schemas import (
    ChangesSchema,
    DiffQuerySchema,
    DiffSchema,
    UsageQuerySchema,
    UsageSchema,
    VersionsSchema,
)
from feature_gateway.api.context import checked_feature_name
from feature_gateway.api.problems import Problems
from feature_gateway.api.revisions import Reply, etag, read_freshness
from feature_gateway.api.roles import require_role
from feature_gateway.db.scopes import Database
from feature_gateway.domain.lifecycle import Action
from feature_gateway.services import catalog, usage
from feature_gateway.shapes import examples
from feature_gateway.shapes.feature_schemas import CreateVersionSchema, FeatureMessageSchema
from feature_gateway.shapes.role_schemas import RoleQuerySchema
from feature_gateway.shapes.schema_fields import FEATURE_NAME_PATH_PARAMETER
from feature_gateway.web.caller import principal
from feature_gateway.web.context import database

blp = ApiBlueprint("catalog", __name__, description="Versions, change log and diff of features")
_BY_NAME: dict[str, Any] = {
    "parameters": [FEATURE_NAME_PATH_PARAMETER],
    "methods": ["GET"],
    "replicated": True,
}


@blp.route("/create_feature_version", methods=["POST"])
@blp.arguments(CreateVersionSchema, example=examples.CREATE_VERSION)
@blp.response(201, FeatureMessageSchema)
@blp.problems(Problems.CHANGE)
def create_feature_version(args: dict[str, Any], *, db: Database) -> Reply:
    """Make a new DRAFT version of a feature, numbered after its highest version."""
    role = require_role(Action.CREATE, args.pop("user_role", None))
    source, created_by = args.pop("feature_name"), args.pop("created_by")
    new = catalog.NewVersion(source, created_by, replaced=args)
    feature = catalog.create_feature_version(db, new, role=role, caller=principal())
    return {"message": "Feature version created", "feature": feature}, etag(feature["revision"])


@blp.route("/features/<feature_name>/versions", **_BY_NAME)
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, VersionsSchema)
@blp.problems(Problems.READ_BY_PATH)
def feature_versions(args: dict[str, Any], feature_name: str) -> dict[str, Any]:
    """Every version of this view and feature, any status, by version number."""
    require_role(Action.READ, args.get("user_role"))
    name = checked_feature_name(feature_name)
    found = catalog.feature_versions(database(), name, read_freshness())
    return {"feature": found.family, "versions": found.versions}


@blp.route("/features/<feature_name>/changes", **_BY_NAME)
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, ChangesSchema)
@blp.problems(Problems.READ_BY_PATH)
def feature_changes(args: dict[str, Any], feature_name: str) -> dict[str, Any]:
    """The change log: one entry per successful write, field by field, oldest first."""
    require_role(Action.READ, args.get("user_role"))
    name = checked_feature_name(feature_name)
    name, entries = catalog.feature_changes(database(), name, read_freshness())
    return {"feature_name": name, "changes": entries}


@blp.route("/features/<feature_name>/diff", **_BY_NAME)
@blp.arguments(DiffQuerySchema, location="query")
@blp.response(200, DiffSchema)
@blp.problems(Problems.READ_BY_PATH)
def feature_diff(args: dict[str, Any], feature_name: str) -> catalog.Diff:
    """How this version differs from another (default: the one it was made from)."""
    require_role(Action.READ, args.get("user_role"))
    name = checked_feature_name(feature_name)
    return catalog.feature_diff(database(), name, args.get("against"), read_freshness())


@blp.route("/features/<feature_name>/usage", **_BY_NAME)
@blp.arguments(UsageQuerySchema, location="query")
@blp.response(200, UsageSchema)
@blp.problems(Problems.READ_BY_PATH)
def feature_usage(args: dict[str, Any], feature_name: str) -> usage.FeatureUsageReport:
    """Who read this feature over the last days, and how often (SPEC §13)."""
    require_role(Action.READ, args.get("user_role"))
    name = checked_feature_name(feature_name)
    return usage.feature_usage(database(), name, args["days"], read_freshness())
