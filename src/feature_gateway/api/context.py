"""What API views need besides the app's handles (``web.context``): the configured request
limits and the checks of ids taken from URL paths."""

from __future__ import annotations

import re

from feature_gateway.config import Settings
from feature_gateway.domain.names import INVALID_FEATURE_NAME, is_valid_feature_name
from feature_gateway.domain.value_requests import RequestLimits
from feature_gateway.errors import ValidationError
from feature_gateway.services.clock import now_ms
from feature_gateway.services.feature_values import ReadCounter
from feature_gateway.web.context import gateway, settings


def value_limits() -> RequestLimits:
    """The configured size limits of a batch feature values request: made once for the
    process's settings (a values request asks twice), again for another app's."""
    global _last_limits
    configured = settings()
    last = _last_limits
    if last is not None and last[0] is configured:
        return last[1]
    limits = RequestLimits(
        max_features=configured.max_features_per_request,
        max_rows=configured.max_entity_rows_per_request,
        max_values=configured.max_values_per_request,
        max_columns=configured.max_entity_columns_per_request,
    )
    _last_limits = (configured, limits)  # the settings kept with them: their id stays theirs
    return limits


_last_limits: tuple[Settings, RequestLimits] | None = None


def read_counter(consumer: str) -> ReadCounter | None:
    """What counts this request's reads of served features as ``consumer``'s (SPEC §13):
    the process's counter, or None when counting is off."""
    handles = gateway()
    if not handles.settings.usage_counting:
        return None
    usage, at = handles.usage, now_ms()
    usage.flush_regularly(handles.database)  # started once per process
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
