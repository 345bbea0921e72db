"""The event feed: every feature's change log, in commit order, with a cursor (SPEC §9)."""

from __future__ import annotations

from typing import Any

from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.events.schemas import EventsQuerySchema, EventsSchema
from feature_gateway.api.problems import Problems
from feature_gateway.api.revisions import read_freshness
from feature_gateway.api.roles import require_role
from feature_gateway.domain.lifecycle import Action
from feature_gateway.services import events
from feature_gateway.services.events import FeedPage
from feature_gateway.web.context import database

blp = ApiBlueprint("events", __name__, description="The event feed")


@blp.route("/events", methods=["GET"], replicated=True)
@blp.arguments(EventsQuerySchema, location="query")
@blp.response(200, EventsSchema)
@blp.problems(Problems.LIST_BY_QUERY)
def list_events(args: dict[str, Any]) -> FeedPage:
    """Events after a cursor, oldest first: follow next_cursor to see each exactly once."""
    require_role(Action.READ, args.get("user_role"))
    return events.read_events(
        database(),
        after=args.get("after"),
        limit=args["limit"],
        types=args.get("type", ()),
        feature_name=args.get("feature_name"),
        freshness=read_freshness(),
    )
