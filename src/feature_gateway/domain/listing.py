"""What a caller may ask of the feature list: filters, sort orders, page bounds."""

from __future__ import annotations

from dataclasses import dataclass

from feature_gateway.domain.tags import TagFilter

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# Far past any real table, and inside every database's integer range (an OFFSET beyond it
# fails in SQLite and PostgreSQL alike).
MAX_OFFSET = 2**31 - 1
SORT_KEYS = ("feature_name", "created_time", "updated_time")
SORT_ORDERS = tuple(key for base in SORT_KEYS for key in (base, f"-{base}"))


@dataclass(frozen=True)
class FeatureQuery:
    """The filters of a list; each multi-valued one matches any of its values (empty: any),
    and all given filters must match. Time bounds: ``after`` inclusive, ``before``
    exclusive, epoch milliseconds."""

    status: tuple[str, ...] = ()
    feature_type: tuple[str, ...] = ()
    feature_data_type: tuple[str, ...] = ()
    owner: tuple[str, ...] = ()
    tags: TagFilter = ()
    created_after: int | None = None
    created_before: int | None = None
    updated_after: int | None = None
    updated_before: int | None = None
    created_by: str | None = None
    search: str | None = None
    include_deleted: bool = False
    sort: str = "feature_name"
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0
