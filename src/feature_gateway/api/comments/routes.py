"""Comments on features (SPEC §10): write one, read a feature's discussion."""

from __future__ import annotations

from typing import Any

from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.comments.schemas import (
    CommentEnvelopeSchema,
    CommentPageSchema,
    CommentsQuerySchema,
)
from feature_gateway.api.context import checked_feature_name
from feature_gateway.api.problems import Problems
from feature_gateway.api.revisions import read_freshness
from feature_gateway.api.roles import require_role
from feature_gateway.db.scopes import Database
from feature_gateway.domain.lifecycle import Action
from feature_gateway.services import comments
from feature_gateway.shapes import examples
from feature_gateway.shapes.comment_schemas import CreateCommentSchema
from feature_gateway.shapes.schema_fields import FEATURE_NAME_PATH_PARAMETER
from feature_gateway.web.caller import principal
from feature_gateway.web.context import database

blp = ApiBlueprint("comments", __name__, description="Discuss a feature under review")
_PATH = "/features/<feature_name>/comments"


@blp.route(_PATH, methods=["POST"], parameters=[FEATURE_NAME_PATH_PARAMETER])
@blp.arguments(CreateCommentSchema, example=examples.COMMENT)
@blp.response(201, CommentEnvelopeSchema, example=examples.COMMENTED)
@blp.problems(Problems.COMMENT)
def comment_on_feature(args: dict[str, Any], feature_name: str, *, db: Database) -> Any:
    """Comment on a feature, in any status; published as a feature.comment event. The
    feature itself does not change (no new revision)."""
    role = require_role(Action.COMMENT, args.get("user_role"))
    name = checked_feature_name(feature_name)
    comment = comments.add_comment(
        db, name, args["body"], author=args["author"], role=role, caller=principal()
    )
    return {"comment": comment}


@blp.route(_PATH, methods=["GET"], parameters=[FEATURE_NAME_PATH_PARAMETER], replicated=True)
@blp.arguments(CommentsQuerySchema, location="query")
@blp.response(200, CommentPageSchema)
@blp.problems(Problems.READ_BY_PATH)
def feature_comments(args: dict[str, Any], feature_name: str) -> comments.CommentPage:
    """The feature's comments, oldest first, a page at a time."""
    require_role(Action.READ, args.get("user_role"))
    name = checked_feature_name(feature_name)
    return comments.list_comments(
        database(), name, limit=args["limit"], offset=args["offset"], freshness=read_freshness()
    )
