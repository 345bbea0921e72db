"""Token management (role admin, token mode only): issue, list and revoke API tokens.

In trust mode every one of these answers 403 naming the CLI: a claimed admin must not mint
tokens that a later switch to token mode would honour.
"""

from __future__ import annotations

from typing import Any

from feature_gateway.api.access import NO_STORE, NO_STORE_DOC, token_mode_only
from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.context import checked_path_id
from feature_gateway.api.problems import Problems
from feature_gateway.api.revisions import Reply
from feature_gateway.api.roles import acting_admin
from feature_gateway.api.tokens.schemas import (
    CREATE_EXAMPLE,
    TOKEN_ID_PATH_PARAMETER,
    IssuedTokenSchema,
    TokenCreateSchema,
    TokenEnvelopeSchema,
    TokenListSchema,
)
from feature_gateway.db.scopes import Database
from feature_gateway.domain.lifecycle import Action
from feature_gateway.domain.tokens import TOKEN_ID_PATTERN
from feature_gateway.services import tokens
from feature_gateway.shapes.role_schemas import RoleQuerySchema
from feature_gateway.web.context import database

blp = ApiBlueprint("tokens", __name__, description="API tokens (role admin, token mode)")


@token_mode_only
@blp.route("/tokens", methods=["POST"])
@blp.arguments(TokenCreateSchema, example=CREATE_EXAMPLE)
@blp.response(201, IssuedTokenSchema, headers=NO_STORE_DOC)
@blp.problems(Problems.TOKEN_CREATE)
def create_token(args: dict[str, Any], *, db: Database) -> Reply:
    """Issue a token; the response is the only time it is shown."""
    admin = acting_admin(Action.MANAGE_TOKENS, args.pop("user_role", None))
    issued = tokens.create_token(db, created_by=admin, **args)
    return {"token": issued.token, "metadata": issued.metadata}, NO_STORE


@token_mode_only
@blp.route("/tokens", methods=["GET"])
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, TokenListSchema, headers=NO_STORE_DOC)
@blp.problems(Problems.TOKEN_LIST)
def list_tokens(args: dict[str, Any]) -> Reply:
    """Every token's metadata, oldest first (never a token itself)."""
    acting_admin(Action.MANAGE_TOKENS, args.get("user_role"))
    return {"tokens": tokens.list_tokens(database())}, NO_STORE


@token_mode_only
@blp.route("/tokens/<token_id>", methods=["DELETE"], parameters=[TOKEN_ID_PATH_PARAMETER])
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, TokenEnvelopeSchema, headers=NO_STORE_DOC)
@blp.problems(Problems.TOKEN_REVOKE)
def revoke_token(args: dict[str, Any], token_id: str) -> Reply:
    """Revoke a token: refused from its next request on, on every worker. Idempotent."""
    acting_admin(Action.MANAGE_TOKENS, args.get("user_role"))
    token_id = checked_path_id(
        "token_id", token_id, TOKEN_ID_PATTERN, "Must be 16 lower-case hex digits."
    )
    return {"metadata": tokens.revoke_token(database(), token_id)}, NO_STORE
