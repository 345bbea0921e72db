"""The feature list's filters as the console's search form sends them, and the queues.

The query string is read by the API's own list schema (``ListFiltersQuerySchema``), so the
console's filters, sorts and page bounds are the API's (SPEC §8). The form adds what a
browser needs: a multiple choice arrives as repeated parameters (joined with commas, as
the API takes them), a date as ``YYYY-MM-DD`` (turned into epoch milliseconds, UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from marshmallow import ValidationError as SchemaError
from werkzeug.datastructures import MultiDict

from feature_gateway.domain.lifecycle import Role, Status
from feature_gateway.domain.listing import LIST_FILTERS, FeatureQuery
from feature_gateway.errors import ValidationError
from feature_gateway.shapes.list_filters import ListFiltersQuerySchema

CONSOLE_PAGE_SIZE = 50
PAGE_SIZES = (25, 50, 100, 200)
# The time bounds of the filter table, which the form takes as dates.
DATE_FILTERS = tuple(f.name for f in LIST_FILTERS if f.on_time)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SCHEMA = ListFiltersQuerySchema()
# The API's query parameters the search form may send (the role is the signed-in one's).
FILTER_PARAMETERS = tuple(
    field.data_key or name for name, field in _SCHEMA.fields.items() if name != "user_role"
)


def feature_query(args: MultiDict[str, str]) -> FeatureQuery:
    """The list query the search form asks for; ValidationError (422) naming what is not."""
    given: dict[str, str] = {}
    for name in FILTER_PARAMETERS:
        values = [v.strip() for v in args.getlist(name) if v.strip()]
        if values:
            given[name] = ",".join(values)
    for name in DATE_FILTERS:
        if name in given:
            given[name] = _epoch_ms(name, given[name])
    given.setdefault("limit", str(CONSOLE_PAGE_SIZE))
    try:
        loaded = _SCHEMA.load(given)
    except SchemaError as exc:
        messages = exc.messages_dict
        detail = "; ".join(f"{field}: {' '.join(map(str, m))}" for field, m in messages.items())
        raise ValidationError(f"The search has invalid filters: {detail}", messages) from exc
    return FeatureQuery(**loaded)


def _epoch_ms(name: str, value: str) -> str:
    if _DATE.fullmatch(value):
        try:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            pass
        else:
            return str(int(day.timestamp() * 1000))
    if value.isascii() and value.isdigit():
        return value  # epoch milliseconds, as the API takes them
    raise ValidationError.for_field(name, f"{name}: give a date as YYYY-MM-DD.")


def page_link_args(args: MultiDict[str, str], offset: int) -> MultiDict[str, str]:
    """The same search, at another offset (the previous and next page links)."""
    kept = MultiDict([(k, v) for k, v in args.items(multi=True) if k != "offset" and v != ""])
    if offset:
        kept["offset"] = str(offset)
    return kept


# What the search form sends for a field left as it was: the URL says nothing of it.
_FORM_DEFAULTS = {
    "sort": str(_SCHEMA.fields["sort"].load_default),
    "limit": str(CONSOLE_PAGE_SIZE),
    "offset": "0",
    "include_deleted": "false",
}


def canonical_args(args: MultiDict[str, str]) -> MultiDict[str, str] | None:
    """The search without its empty and default parameters, when it has any (the list page
    redirects there, so its URL is short enough to read and share); None when it has none."""
    given = list(args.items(multi=True))
    kept = [
        (name, value)
        for name, value in given
        if value.strip() != "" and _FORM_DEFAULTS.get(name) != value
    ]
    return None if len(kept) == len(given) else MultiDict(kept)


@dataclass(frozen=True)
class Queue:
    """What waits for one role (SPEC §10): features in these states, or, for developers,
    their own."""

    role: Role
    title: str
    statuses: tuple[Status, ...]
    triggers: tuple[str, ...]  # what the role does to a feature waiting here
    own_only: bool = False

    def query(self, person: str, limit: int) -> FeatureQuery:
        return FeatureQuery(
            status=tuple(self.statuses),
            created_by=person if self.own_only else None,
            sort="updated_time",  # whatever has waited longest first
            limit=limit,
        )


QUEUES = {
    queue.role: queue
    for queue in (
        Queue(
            Role.APPROVER, "Waiting for approval", (Status.TEST_SUCCEEDED,), ("approve", "reject")
        ),
        Queue(
            Role.EXTERNAL_TESTING_SYSTEM,
            "Waiting for a test result",
            (Status.READY_FOR_TESTING,),
            ("test",),
        ),
        Queue(
            Role.DEVELOPER,
            "Your features to submit or fix",
            (Status.DRAFT, Status.TEST_FAILED, Status.REJECTED),
            ("submit", "fix"),
            own_only=True,
        ),
    )
}
