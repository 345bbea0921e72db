"""The event feed's vocabulary (SPEC §9): event types, event ids and the opaque cursor.

An event is a change-log entry (SPEC §8) seen across features; its type is
``"feature." + action``. Its id and the feed's cursor both carry the entry's position in the
log, but clients must treat them as opaque (pass ``next_cursor`` back unchanged).
"""

from __future__ import annotations

import re

from feature_gateway.domain.changes import ChangeAction

EVENT_TYPE_PREFIX = "feature."
EVENT_TYPES = tuple(f"{EVENT_TYPE_PREFIX}{action.value}" for action in ChangeAction)
ALL_EVENT_TYPES = "*"  # a webhook's event_types ["*"]: every type
EVENT_ID_PREFIX = "evt_"
EVENT_ID_PATTERN = f"^{EVENT_ID_PREFIX}[0-9]+$"

DEFAULT_PAGE = 100
MAX_PAGE = 1_000
# A cursor is 16 hex digits, the first at most 7: every string of that shape is a position
# (0 to the largest BIGINT), so the pattern the API document states is the whole rule.
CURSOR_PATTERN = "^[0-7][0-9a-f]{15}$"
_CURSOR = re.compile(CURSOR_PATTERN)
START_POSITION = 0  # before the first entry: ids start at 1


class InvalidCursorError(ValueError):
    """A cursor this service did not hand out (or a damaged one)."""


def event_type(action: str) -> str:
    return f"{EVENT_TYPE_PREFIX}{action}"


def action_of(event_type_name: str) -> str:
    """The change-log action of a known event type."""
    if event_type_name not in EVENT_TYPES:
        raise ValueError(event_type_name)
    return event_type_name.removeprefix(EVENT_TYPE_PREFIX)


def event_id(position: int) -> str:
    return f"{EVENT_ID_PREFIX}{position}"


def encode_cursor(position: int) -> str:
    """The cursor that continues after the entry at ``position``."""
    return f"{position:016x}"


def decode_cursor(cursor: str) -> int:
    """The position a cursor continues after; InvalidCursorError for anything else."""
    if not _CURSOR.fullmatch(cursor):
        raise InvalidCursorError(cursor)
    return int(cursor, 16)


def matches(event_types: tuple[str, ...] | list[str], type_name: str) -> bool:
    """Whether a subscription to ``event_types`` wants an event of ``type_name``."""
    return ALL_EVENT_TYPES in event_types or type_name in event_types
