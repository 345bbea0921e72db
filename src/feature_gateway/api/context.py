"""What views need from the application: settings, the database handle, name checks."""

from __future__ import annotations

import re

from flask import current_app

from feature_gateway.config import Settings
from feature_gateway.db.scopes import Database
from feature_gateway.domain.names import INVALID_FEATURE_NAME, is_valid_feature_name
from feature_gateway.domain.value_requests import RequestLimits
from feature_gateway.errors import ValidationError

EXTENSION = "feature_gateway"


def settings() -> Settings:
    return current_app.extensions[EXTENSION].settings  # type: ignore[no-any-return]


def database() -> Database:
    """The application's database, the same for every request. (A keyed write's view is
    handed the one of its request's transaction instead, as ``db``: ``api.idempotency``.)"""
    return current_app.extensions[EXTENSION].database  # type: ignore[no-any-return]


def value_limits() -> RequestLimits:
    """The configured size limits of a batch feature values request."""
    configured = settings()
    return RequestLimits(
        max_features=configured.max_features_per_request,
        max_rows=configured.max_entity_rows_per_request,
        max_values=configured.max_values_per_request,
        max_columns=configured.max_entity_columns_per_request,
    )


def checked_path_id(field: str, value: str, pattern: str, rule: str) -> str:
    """An id taken from a URL path, held to its pattern (422 naming ``field`` otherwise)."""
    if not re.fullmatch(pattern, value):
        raise ValidationError.for_field(field, rule)
    return value


def checked_feature_name(name: str) -> str:
    """A feature name taken from a URL path, held to the same rule as body fields."""
    if not is_valid_feature_name(name):
        raise ValidationError.for_field("feature_name", INVALID_FEATURE_NAME)
    return name
