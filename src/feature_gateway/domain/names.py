"""Feature names: ``<view>:<feature>:<version>``, the identity of a feature."""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

MAX_FEATURE_NAME_LENGTH = 255
FEATURE_NAME_PATTERN = re.compile(
    r"(?P<view>[A-Za-z_][A-Za-z0-9_]*):(?P<feature>[A-Za-z_][A-Za-z0-9_]*):v?(?P<version>[1-9][0-9]*)"
)
FEATURE_NAME_RULE = (
    "a feature name is '<view>:<feature>:<version>' where view and feature match "
    "[A-Za-z_][A-Za-z0-9_]* and version is a positive integer, optionally prefixed 'v' "
    f"(e.g. driver_hourly_stats:conv_rate:1), at most {MAX_FEATURE_NAME_LENGTH} characters"
)


INVALID_FEATURE_NAME = f"Invalid feature name: {FEATURE_NAME_RULE}."


class FeatureNameParts(NamedTuple):
    view: str
    feature: str
    version: int


@functools.lru_cache(maxsize=4096)
def parse_feature_name(name: str) -> FeatureNameParts | None:
    """The parts of a well-formed name, or None when the name breaks the rule. A serving
    request's names are parsed by its validation, its lookup and its read counting, and
    come back request after request: the answers (immutable) are kept."""
    if len(name) > MAX_FEATURE_NAME_LENGTH:
        return None
    match = FEATURE_NAME_PATTERN.fullmatch(name)
    if match is None:
        return None
    return FeatureNameParts(match["view"], match["feature"], int(match["version"]))


def is_valid_feature_name(name: str) -> bool:
    return parse_feature_name(name) is not None


@functools.lru_cache(maxsize=4096)
def canonical_feature_name(name: str) -> str:
    """One spelling per version: ``view:feature:v2`` and ``view:feature:2`` are one feature.

    Names are stored as given; this is what makes two spellings of one version collide.
    A serving request's lookup spells each of its names so, request after request: the
    answers (immutable strings) are kept, as ``parse_feature_name``'s are.
    """
    parts = parse_feature_name(name)
    if parts is None:
        raise ValueError(f"{INVALID_FEATURE_NAME} Got {name!r}.")
    return f"{parts.view}:{parts.feature}:{parts.version}"


# The same rule as a regular expression that reads alike in Python and ECMA-262, the dialect
# JSON Schema (and so OpenAPI clients) use; with the length limit it is the whole rule.
FEATURE_NAME_PORTABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*:v?[1-9][0-9]*$"
