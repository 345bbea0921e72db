"""What views need from the application: the database handle, name checks."""

from __future__ import annotations

from flask import current_app

from feature_gateway.db.unit_of_work import Database
from feature_gateway.domain.names import FEATURE_NAME_RULE, is_valid_feature_name
from feature_gateway.errors import ValidationError

EXTENSION = "feature_gateway"


def database() -> Database:
    return current_app.extensions[EXTENSION].database  # type: ignore[no-any-return]


def checked_feature_name(name: str) -> str:
    """A feature name taken from a URL path, held to the same rule as body fields."""
    if not is_valid_feature_name(name):
        raise ValidationError.for_field(
            "feature_name", f"Invalid feature name: {FEATURE_NAME_RULE}."
        )
    return name
