"""What a caller may ask of the feature list: filters, sort orders, page bounds.

``FeatureQuery`` is the filter table: each of its fields declared with ``list_filter`` is a
filter, with its kind, the column it reads and its description. The list schemas (a JSON
body and query parameters, ``api.features.schemas``), the console's search form, the WHERE
conditions of a page (``db.feature_pages``) and the index each filter needs
(``db.models``) are derived from it; ``tests/unit/test_declarations.py`` checks that each
filter's index exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from feature_gateway.domain.feature_fields import FIELDS_BY_NAME, Kind
from feature_gateway.domain.tags import TagFilter

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# Far past any real table, and inside every database's integer range (an OFFSET beyond it
# fails in SQLite and PostgreSQL alike).
MAX_OFFSET = 2**31 - 1
SORT_KEYS = ("feature_name", "created_time", "updated_time")
SORT_ORDERS = tuple(key for base in SORT_KEYS for key in (base, f"-{base}"))


class FilterKind(StrEnum):
    """How a filter matches, which decides its value, its condition and the index it needs."""

    FLAG = "a yes or no that widens the list"  # include_deleted: DELETED ones too
    ANY_OF = "the column is any of the values"
    TAGS = "every one of the tags"
    AT_OR_AFTER = "the column is at or after the bound"
    BEFORE = "the column is before the bound"
    EQUALS = "the column equals the value"
    SEARCH = "a substring of the name or the description"


_EMPTY: dict[FilterKind, Any] = {
    FilterKind.FLAG: False,
    FilterKind.ANY_OF: (),
    FilterKind.TAGS: (),
}


@dataclass(frozen=True)
class Filter:
    """One list filter: ``column`` is the field it compares (None: the tags, or the name and
    description a search reads); ``description`` for the API document."""

    name: str
    kind: FilterKind
    column: str | None = None
    description: str | None = None

    @property
    def choices(self) -> tuple[str, ...]:
        """The values the column may hold, when they are a fixed set (else empty)."""
        return FIELDS_BY_NAME[self.column].choices if self.column else ()

    @property
    def on_time(self) -> bool:
        return self.column is not None and FIELDS_BY_NAME[self.column].kind is Kind.TIME


def list_filter(
    kind: FilterKind, column: str | None = None, description: str | None = None
) -> Any:
    """A field of ``FeatureQuery`` that is a filter: unset, it matches every feature."""
    spec = {"kind": kind, "column": column, "description": description}
    return field(default=_EMPTY.get(kind), metadata={"filter": spec})


_ANY_OF = FilterKind.ANY_OF


@dataclass(frozen=True)
class FeatureQuery:
    """The filters of a list; each ``ANY_OF`` one matches any of its values (empty: any),
    and all given filters must match. Time bounds: ``after`` inclusive, ``before``
    exclusive, epoch milliseconds. In this order in the API document."""

    include_deleted: bool = list_filter(FilterKind.FLAG)
    status: tuple[str, ...] = list_filter(
        _ANY_OF, "status", "Only features in this status (DELETED ones included when asked for)"
    )
    feature_type: tuple[str, ...] = list_filter(_ANY_OF, "feature_type")
    feature_data_type: tuple[str, ...] = list_filter(_ANY_OF, "feature_data_type")
    owner: tuple[str, ...] = list_filter(
        _ANY_OF, "owner", "Only features owned by this team or person"
    )
    tags: TagFilter = list_filter(FilterKind.TAGS)  # noqa: RUF009 (an empty tuple, immutable)
    created_after: int | None = list_filter(
        FilterKind.AT_OR_AFTER, "created_time", "Only features created at or after this time"
    )
    created_before: int | None = list_filter(
        FilterKind.BEFORE, "created_time", "Only features created before this time"
    )
    updated_after: int | None = list_filter(
        FilterKind.AT_OR_AFTER, "updated_time", "Only features last changed at or after this time"
    )
    updated_before: int | None = list_filter(
        FilterKind.BEFORE, "updated_time", "Only features last changed before this time"
    )
    created_by: str | None = list_filter(
        FilterKind.EQUALS, "created_by", "Only features created by this actor"
    )
    search: str | None = list_filter(
        FilterKind.SEARCH,
        description="Case-insensitive substring of the name or description; % and _ match "
        "themselves",
    )
    sort: str = "feature_name"
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0


# The filter table, in declaration order.
LIST_FILTERS = tuple(
    Filter(f.name, **f.metadata["filter"]) for f in fields(FeatureQuery) if "filter" in f.metadata
)
