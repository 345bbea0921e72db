"""What a caller may ask of the feature list: filters, sort orders, page bounds."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# Far past any real table, and inside every database's integer range (an OFFSET beyond it
# fails in SQLite and PostgreSQL alike).
MAX_OFFSET = 2**31 - 1
SORT_KEYS = ("feature_name", "created_time", "updated_time")
SORT_ORDERS = tuple(key for base in SORT_KEYS for key in (base, f"-{base}"))


@dataclass(frozen=True)
class FeatureQuery:
    status: str | None = None
    feature_type: str | None = None
    feature_data_type: str | None = None
    created_by: str | None = None
    search: str | None = None
    include_deleted: bool = False
    sort: str = "feature_name"
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0
