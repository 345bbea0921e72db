"""The simulated values' definition, one value at a time: the oracle the service is tested
against (docs/feature-values.md, "How a value is derived").

The service computes whole columns at once on numpy arrays (``domain.values``); this is
the same scheme written out step by step on Python integers, as the documentation states
it, so a test can hold every cell of the fast path to it.
"""

from __future__ import annotations

from collections.abc import Mapping

from feature_gateway.domain.lifecycle import DataType
from feature_gateway.domain.values import (
    BOOLEAN_BIT,
    FLOAT_SCALES,
    INTEGER_MODULI,
    MASK64,
    STRING_LABELS,
    STRING_VARIANTS,
    EntityValue,
    FeatureSpec,
    Value,
    bucket_start,
    digest64,
    feature_seed,
)


def mix64(x: int) -> int:
    """splitmix64's finaliser on a Python int (Steele, Lea & Flood, 2014)."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def entity_value_seed(column: str, value: EntityValue) -> int:
    if type(value) is str:
        text = b"s" + value.encode("utf-8", "surrogatepass")
    else:  # so that "7" and 7 differ
        text = b"i" + str(value).encode("ascii")
    return digest64(b"fmg.entity", column.encode("utf-8", "surrogatepass") + b"\0" + text)


def row_seed(row: Mapping[str, EntityValue]) -> int:
    seed = 0
    for column in sorted(row):
        seed = mix64(seed ^ entity_value_seed(column, row[column]))
    return seed


def value_key(spec: FeatureSpec, row: Mapping[str, EntityValue], event_timestamp: int) -> int:
    start = bucket_start(event_timestamp, spec.feature_type)
    return mix64(mix64(feature_seed(spec.name) ^ mix64(start)) ^ row_seed(row))


def typed_value(key: int, data_type: str) -> Value:
    if data_type in FLOAT_SCALES:
        modulus, divisor = FLOAT_SCALES[data_type]
        return (key % modulus) / divisor
    if data_type in INTEGER_MODULI:
        return key % INTEGER_MODULI[data_type]
    if data_type == DataType.BOOLEAN:
        return bool(key >> BOOLEAN_BIT)
    if data_type == DataType.STRING:
        return STRING_LABELS[key % STRING_VARIANTS]
    raise ValueError(f"unknown feature data type {data_type!r}")


def simulated_value(
    spec: FeatureSpec, row: Mapping[str, EntityValue], event_timestamp: int
) -> Value:
    """The documented definition of one value."""
    return typed_value(value_key(spec, row, event_timestamp), spec.data_type)
