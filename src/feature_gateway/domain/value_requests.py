"""What a batch feature values request may hold: entity keys, time, size limits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from feature_gateway.errors import ValidationError

# Entity key columns are identifiers (join keys); values are strings or 64-bit integers.
ENTITY_KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_ENTITY_KEY_LENGTH = 255
ENTITY_KEY_RULE = (
    f"an entity key name matches [A-Za-z_][A-Za-z0-9_]* and has at most "
    f"{MAX_ENTITY_KEY_LENGTH} characters"
)
MIN_ENTITY_INT, MAX_ENTITY_INT = -(1 << 63), (1 << 63) - 1
MAX_EVENT_TIMESTAMP = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


@dataclass(frozen=True)
class RequestLimits:
    max_features: int
    max_rows: int
    max_values: int
    max_columns: int

    def violations(self, n_features: int, n_rows: int, n_columns: int) -> dict[str, list[str]]:
        """Field → messages for every limit the request breaks; empty when it fits."""
        found: dict[str, list[str]] = {}
        if n_features > self.max_features:
            found["features"] = [
                f"At most {self.max_features:,} features per request, got {n_features:,}."
            ]
        if n_columns > self.max_columns:
            found["entities"] = [
                f"At most {self.max_columns:,} entity key columns per request, got {n_columns:,}."
            ]
        if n_rows > self.max_rows:
            found.setdefault("entities", []).append(
                f"At most {self.max_rows:,} entity rows per request, got {n_rows:,}."
            )
        if n_features * n_rows > self.max_values:
            found.setdefault("_schema", []).append(
                f"At most {self.max_values:,} values (features times entity rows) per "
                f"request, got {n_features:,} * {n_rows:,} = {n_features * n_rows:,}."
            )
        return found

    def check(self, n_features: int, n_rows: int, n_columns: int) -> None:
        """ValidationError (422) naming every limit the request breaks."""
        violations = self.violations(n_features, n_rows, n_columns)
        if violations:
            messages = [message for field in violations.values() for message in field]
            raise ValidationError("The request is too large: " + " ".join(messages), violations)


def is_valid_entity_key(column: str) -> bool:
    if len(column) > MAX_ENTITY_KEY_LENGTH:
        return False
    return ENTITY_KEY_PATTERN.fullmatch(column) is not None


def entity_value_problem(values: Sequence[Any]) -> str | None:
    """Why ``values`` is not a column of entity keys, naming the first bad item; else None."""
    for index, value in enumerate(values):
        kind = type(value)  # exact types: bool is an int subclass, and is not a key
        if kind is str or (kind is int and MIN_ENTITY_INT <= value <= MAX_ENTITY_INT):
            continue
        # The JSON parser hands integers beyond 64 bits over as floats.
        if kind is int or (kind is float and value.is_integer() and abs(value) > MAX_ENTITY_INT):
            return f"Item {index}: integer keys must fit in a signed 64-bit integer."
        return (
            f"Item {index}: entity key values must be strings or integers, "
            f"got {_json_kind(value)}."
        )
    return None


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    kinds = {
        bool: "a boolean",
        float: "a number with a fraction or exponent",
        list: "a list",
        dict: "an object",
    }
    return kinds.get(type(value), type(value).__name__)
