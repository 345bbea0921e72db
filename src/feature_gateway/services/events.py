"""The event feed (SPEC §9): the change log of every feature, in commit order.

Following ``next_cursor`` sees every event exactly once: change-log ids are assigned in
commit order (``ChangeLogRepository.lock_for_append``), so an entry that is not visible yet
always gets a larger id than every visible one, and a cursor never passes over it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from feature_gateway.db.catalog_models import FeatureChange
from feature_gateway.db.scopes import Database
from feature_gateway.db.unit_of_work import UnitOfWork
from feature_gateway.domain.comments import COMMENT_ACTION
from feature_gateway.domain.events import (
    START_POSITION,
    InvalidCursorError,
    action_of,
    decode_cursor,
    encode_cursor,
    event_id,
    event_type,
)
from feature_gateway.domain.freshness import WITHIN_LAG, Freshness
from feature_gateway.errors import ValidationError
from feature_gateway.services.rows import change_data

EventData = dict[str, Any]


@dataclass(frozen=True)
class FeedPage:
    events: list[EventData]
    next_cursor: str


def event_data(entry: FeatureChange) -> EventData:
    """The event of one change-log entry, as the feed and the webhooks send it; a comment's
    carries the comment (its ``comment`` loaded with the entry)."""
    data = {"id": event_id(entry.id), "type": event_type(entry.action), **change_data(entry)}
    if entry.action == COMMENT_ACTION and entry.comment is not None:
        data["comment"] = {"comment_id": entry.comment.id, "body": entry.comment.body}
    return data


def read_events(
    database: Database,
    *,
    after: str | None,
    limit: int,
    types: Sequence[str] = (),
    feature_name: str | None = None,
    freshness: Freshness = WITHIN_LAG,
) -> FeedPage:
    """The next ``limit`` events after the cursor (from the start without one).

    A replica may serve it: it replays commits in the primary's order, and change-log ids
    follow commit order, so it never shows an entry before one with a smaller id either."""
    position = START_POSITION if after is None else _position(after)
    actions = [action_of(name) for name in types]

    def read(uow: UnitOfWork) -> tuple[Sequence[FeatureChange], list[EventData]]:
        entries = uow.changes.feed(position, limit, actions, feature_name)
        return entries, [event_data(entry) for entry in entries]

    if feature_name is not None:
        freshness = freshness.of(feature_name)
    entries, events = database.replicated_read(read, freshness)
    if entries:
        next_cursor = encode_cursor(entries[-1].id)
    else:
        next_cursor = after if after is not None else encode_cursor(position)
    return FeedPage(events, next_cursor)


def _position(cursor: str) -> int:
    try:
        return decode_cursor(cursor)
    except InvalidCursorError:
        raise ValidationError.for_field(
            "after", "Not a cursor this service handed out: pass a next_cursor unchanged."
        ) from None
