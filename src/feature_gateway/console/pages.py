"""What the feature page shows, read through the same services as the API's reads."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feature_gateway.domain.feature_fields import FEATURE_FIELDS, FIELDS_BY_NAME, Field, Kind
from feature_gateway.domain.freshness import LATEST
from feature_gateway.domain.listing import MAX_PAGE_SIZE
from feature_gateway.domain.usage import DEFAULT_USAGE_DAYS
from feature_gateway.services import catalog, comments, features, usage
from feature_gateway.services.catalog import Diff
from feature_gateway.services.clock import now_ms
from feature_gateway.services.usage import FeatureUsageReport
from feature_gateway.web.context import database

# The fields the page shows in their own sections rather than in the table of fields.
SHOWN_APART = frozenset({"feature_name", "query", "description", "tags", "status"})
TABLE_FIELDS = tuple(f for f in FEATURE_FIELDS if f.name not in SHOWN_APART)


@dataclass(frozen=True)
class FeaturePage:
    feature: dict[str, Any]
    history: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    diff: Diff | None
    usage: FeatureUsageReport  # the last USAGE_DAYS days
    now: int
    comments: comments.CommentPage  # the first MAX_PAGE_SIZE, oldest first

    @property
    def timeline(self) -> list[tuple[str, dict[str, Any]]]:
        """The status changes and the comments by time, as ("status" or "comment", entry);
        at the same millisecond a status change comes first."""
        changes = (("status", entry) for entry in self.history)
        remarks = (("comment", entry) for entry in self.comments.comments)
        return list(heapq.merge(changes, remarks, key=_time))

    @property
    def reads_summary(self) -> str:
        """ "read by 3 consumers, last read 2 minutes ago", or that nobody read it."""
        consumers = self.usage.consumers
        if not consumers:
            return f"not read in the last {self.usage.days} days"
        last = max(consumer.last_read_time for consumer in consumers)
        who = "1 consumer" if len(consumers) == 1 else f"{len(consumers)} consumers"
        return f"read by {who}, last read {ago(last, self.now)}"


# How far back the feature page looks for reads.
USAGE_DAYS = DEFAULT_USAGE_DAYS
_UNITS = ((86_400, "day"), (3_600, "hour"), (60, "minute"), (1, "second"))


def ago(then_ms: int, now_ms: int) -> str:
    """``2 minutes ago``: the largest whole unit, rounded down."""
    since = duration(then_ms, now_ms)
    return "just now" if since is None else f"{since} ago"


def duration(then_ms: int, now_ms: int) -> str | None:
    """``3 days``: the largest whole unit, rounded down; None under a second."""
    seconds = max(0, (now_ms - then_ms) // 1000)
    if seconds < 1:
        return None
    size, unit = next((size, unit) for size, unit in _UNITS if seconds >= size)
    count = seconds // size
    return f"{count} {unit}{'s' if count != 1 else ''}"


def feature_page(name: str) -> FeaturePage:
    """Everything the page shows; FeatureNotFoundError (404) for an unknown name. Read on
    the primary (LATEST): a person acts on what the page shows, right after their own
    action redirected them to it."""
    db = database()
    feature = features.get_feature(db, name, LATEST)
    stored = feature["feature_name"]
    _, changes = catalog.feature_changes(db, stored, LATEST)
    diff = catalog.feature_diff(db, stored, None, LATEST) if feature["previous_version"] else None
    return FeaturePage(
        feature=feature,
        history=features.feature_history(db, stored, LATEST),
        changes=changes,
        versions=list(catalog.feature_versions(db, stored, LATEST).versions),
        diff=diff,
        usage=usage.feature_usage(db, stored, USAGE_DAYS, LATEST),
        now=now_ms(),
        comments=comments.list_comments(
            db, stored, limit=MAX_PAGE_SIZE, offset=0, freshness=LATEST
        ),
    )


def _time(item: tuple[str, dict[str, Any]]) -> int:
    kind, entry = item
    return int(entry["timestamp"] if kind == "status" else entry["created_time"])


def diff_lines(text: str) -> list[tuple[str, str]]:
    """Each line of a unified diff with its kind, for colouring: file, hunk, add, remove,
    same."""
    lines = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "remove"
        else:
            kind = "same"
        lines.append((kind, line))
    return lines


def format_time(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "{}"
    return str(value)


def format_field(name: str, value: Any) -> str:
    """A value of the field ``name`` as a page shows it: times as every time is shown (the
    change log and the diff hold epoch milliseconds), the rest by ``format_value``."""
    field = FIELDS_BY_NAME.get(name)
    if field is not None and field.kind is Kind.TIME and isinstance(value, int):
        return format_time(value)
    return format_value(value)


def set_and_unset(feature: dict[str, Any]) -> tuple[list[Field], list[Field]]:
    """The table's fields the feature has a value for, and those it has none for."""
    shown = [field for field in TABLE_FIELDS if feature.get(field.name) not in (None, {}, "")]
    return shown, [field for field in TABLE_FIELDS if field not in shown]


def is_time(kind: Kind) -> bool:
    return kind is Kind.TIME


def is_reference(kind: Kind) -> bool:
    return kind is Kind.REFERENCE
