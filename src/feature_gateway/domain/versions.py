"""Versions of a feature: every name ``<view>:<feature>:<n>`` sharing view and feature.

A deployed feature never changes; a change is a new version, made from an existing one
(SPEC §8). Versions are numbered by integer, whichever way a name spells its number.
"""

from __future__ import annotations

from feature_gateway.domain.names import (
    INVALID_FEATURE_NAME,
    MAX_FEATURE_NAME_LENGTH,
    FeatureNameParts,
    parse_feature_name,
)


def _parts(name: str) -> FeatureNameParts:
    parts = parse_feature_name(name)
    if parts is None:
        raise ValueError(f"{INVALID_FEATURE_NAME} Got {name!r}.")
    return parts


def family_name(name: str) -> str:
    """``driver_hourly_stats:conv_rate:v2`` → ``driver_hourly_stats:conv_rate``."""
    parts = _parts(name)
    return f"{parts.view}:{parts.feature}"


def version_number(name: str) -> int:
    return _parts(name).version


def version_key(number: int) -> str:
    """A string that sorts like the number, for any size of number (a name may spell one
    of 250 digits, past every database integer): the digit count, then the digits."""
    digits = str(number)
    return f"{len(digits):03d}{digits}"


def number_of_key(key: str) -> int:
    return int(key[3:])


def next_version_name(family: str, highest_version: int) -> str | None:
    """The name of the version after ``highest_version``, its number spelled plainly;
    None when that name would be longer than a feature name may be."""
    name = f"{family}:{highest_version + 1}"
    return name if len(name) <= MAX_FEATURE_NAME_LENGTH else None
