"""What views need from the application: settings, the database handle, name checks."""

from __future__ import annotations

import re

from flask import current_app, g

from feature_gateway.config import Settings
from feature_gateway.db.unit_of_work import Database
from feature_gateway.domain.names import INVALID_FEATURE_NAME, is_valid_feature_name
from feature_gateway.domain.value_requests import RequestLimits
from feature_gateway.errors import ValidationError
from feature_gateway.services.clock import now_ms
from feature_gateway.services.feature_values import ReadCounter

EXTENSION = "feature_gateway"
# Where api.idempotency puts the Database of the request's transaction, in ``flask.g``.
REQUEST_DATABASE = "request_database"


def settings() -> Settings:
    return current_app.extensions[EXTENSION].settings  # type: ignore[no-any-return]


def database() -> Database:
    """The database the request works on: inside a keyed write (``api.idempotency``) the
    request's own transaction, which its units of work join."""
    joined = g.get(REQUEST_DATABASE)
    if joined is not None:
        return joined  # type: ignore[no-any-return]
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


def read_counter(consumer: str) -> ReadCounter | None:
    """What counts this request's reads of served features as ``consumer``'s (SPEC §13):
    the process's counter, or None when counting is off."""
    gateway = current_app.extensions[EXTENSION]
    if not gateway.settings.usage_counting:
        return None
    usage, at = gateway.usage, now_ms()
    usage.flush_regularly(gateway.database)  # started once per process
    return lambda feature_names: usage.count(feature_names, consumer, at)


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
