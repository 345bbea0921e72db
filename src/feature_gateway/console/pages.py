"""What the feature page shows, read through the same services as the API's reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feature_gateway.domain.feature_fields import FEATURE_FIELDS, Kind
from feature_gateway.domain.freshness import LATEST
from feature_gateway.services import catalog, features
from feature_gateway.services.catalog import Diff
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
    )


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


def is_time(kind: Kind) -> bool:
    return kind is Kind.TIME


def is_reference(kind: Kind) -> bool:
    return kind is Kind.REFERENCE
