"""Simulated feature values: a pure function of (feature name, entity row, time bucket).

The service stores metadata, not data, yet model servers need values to call it with.
Every value is derived from its inputs alone, so any process on any machine, under any
Python version, answers the same request with the same value; Python's ``hash()`` (salted
per process) is never used. The scheme, step by step (all arithmetic modulo 2**64):

- ``digest64(tag, data)``: the 8-byte BLAKE2b digest of ``data`` with personalisation
  ``tag``, read as a little-endian unsigned integer.
- feature seed: ``digest64(b"fmg.feature", name as UTF-8)``.
- entity value seed: ``digest64(b"fmg.entity", column + b"\\0" + b"s" + UTF-8 text)`` for a
  string, ``... + b"i" + decimal digits`` for an integer (so ``"7"`` and ``7`` differ).
- row seed: starting from 0, for each key column in *sorted* column-name order,
  ``seed = mix64(seed ^ value_seed)``: column order in the request does not matter.
- bucket start: ``event_timestamp - event_timestamp % bucket_ms(feature_type)``.
- value key: ``mix64(mix64(feature_seed ^ mix64(bucket_start)) ^ row_seed)``.
- the value is read from the key by data type (``typed_value``).

``mix64`` is the splitmix64 finaliser (Steele, Lea & Flood, 2014), a bijection on 64-bit
integers built from add, xor, shift and wrapping multiply, so it is the same everywhere.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from feature_gateway.domain.lifecycle import DataType, FeatureType

EntityValue = str | int
Value = float | int | bool | str

PRESENT = "PRESENT"
NOT_FOUND = "NOT_FOUND"

# One value per bucket: a batch feature is recomputed daily, compute-first every minute,
# real-time every second. Buckets are aligned to the Unix epoch, hence to UTC midnight.
BUCKET_MS: dict[str, int] = {
    FeatureType.BATCH: 86_400_000,
    FeatureType.COMPUTE_FIRST: 60_000,
    FeatureType.REAL_TIME: 1_000,
}

MASK64 = (1 << 64) - 1
_GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_MIX_1 = 0xBF58476D1CE4E5B9
_MIX_2 = 0x94D049BB133111EB
_FEATURE_TAG = b"fmg.feature"
_ENTITY_TAG = b"fmg.entity"

# How a 64-bit key becomes a typed value: (modulus, divisor) for numbers. A float is the
# key modulo the modulus divided by the divisor (a correctly rounded IEEE division, so
# the result is bit-identical everywhere); an integer is the key modulo the modulus.
FLOAT_SCALES: dict[str, tuple[int, int]] = {
    DataType.FLOAT: (10_000, 10_000),  # 0.0000 .. 0.9999
    DataType.DOUBLE: (1_000_000, 1_000_000),  # 0.000000 .. 0.999999
    DataType.DECIMAL: (1_000_000, 100),  # 0.00 .. 9999.99
}
INTEGER_MODULI: dict[str, int] = {
    DataType.INTEGER: 1_000,  # 0 .. 999
    DataType.INT: 1_000,  # 0 .. 999
    DataType.BIGINT: 1_000_000_000_000,  # 0 .. 999,999,999,999 (exact in JSON doubles)
}
STRING_VARIANTS = 1_000
STRING_LABELS = tuple(f"value_{i:03d}" for i in range(STRING_VARIANTS))  # value_000 .. 999
BOOLEAN_BIT = 63  # the key's top bit
# Feature columns are computed this many values at a time, so a large request holds a
# block's arrays at once, not the whole answer's (docs/performance.md).
BLOCK_VALUES = 16_384

U64Array = npt.NDArray[np.uint64]
_U64_GOLDEN_GAMMA = np.uint64(_GOLDEN_GAMMA)
_U64_MIX_1, _U64_MIX_2 = np.uint64(_MIX_1), np.uint64(_MIX_2)
_U64_27, _U64_30, _U64_31 = np.uint64(27), np.uint64(30), np.uint64(31)
_STRING_LABEL_ARRAY = np.array(STRING_LABELS, dtype=object)


# FeatureSpec and Column are named tuples: a request makes one per feature and column, and
# a frozen dataclass's ``__init__`` (an ``object.__setattr__`` per field) cost three times
# as much (docs/performance.md, "i27-values").
class FeatureSpec(NamedTuple):
    """What the generator needs to know of a deployed feature."""

    name: str
    feature_type: str
    data_type: str


class Column(NamedTuple):
    """One column of the response; the lists may be shared between columns (read-only)."""

    values: Sequence[Any]
    statuses: Sequence[str]
    event_timestamps: Sequence[int]


@dataclass(frozen=True)
class OnlineFeatures:
    """Entity key columns first, then one column per requested feature, in request order.

    ``columns`` may be lazy (``simulate_columns``): then it can be iterated once.
    """

    feature_names: list[str]
    columns: Iterable[Column]


def digest64(tag: bytes, data: bytes) -> int:
    digest = hashlib.blake2b(data, digest_size=8, person=tag).digest()
    return int.from_bytes(digest, "little")


# The same features are asked for request after request: their seeds (an int each) are kept.
@functools.lru_cache(maxsize=4096)
def feature_seed(feature_name: str) -> int:
    return digest64(_FEATURE_TAG, feature_name.encode("utf-8", "surrogatepass"))


def bucket_start(event_timestamp: int, feature_type: str) -> int:
    size = BUCKET_MS[feature_type]
    return event_timestamp - event_timestamp % size


def simulate(
    features: Sequence[str],
    deployed: Mapping[str, FeatureSpec],
    entities: Mapping[str, Sequence[EntityValue]],
    event_timestamp: int,
) -> OnlineFeatures:
    """Columns for ``features`` by entity rows; names not in ``deployed`` are NOT_FOUND.

    Vectorised: each entity row and each feature is hashed once, then every (feature, row)
    key is mixed at once on uint64 arrays. Every cell is the one the scheme above defines
    (``tests/value_oracle.py`` writes it out value by value; the tests hold them equal).
    Numeric and boolean columns are numpy arrays, string columns lists.
    """
    columns = list(simulate_columns(features, deployed, entities, event_timestamp))
    return OnlineFeatures([*entities, *features], columns)


def simulate_columns(
    features: Sequence[str],
    deployed: Mapping[str, FeatureSpec],
    entities: Mapping[str, Sequence[EntityValue]],
    event_timestamp: int,
    block_values: int = BLOCK_VALUES,
) -> Iterator[Column]:
    """``simulate``'s columns, in order, computed as they are asked for: the features in
    blocks of about ``block_values`` values, so memory stays bounded whatever the size."""
    n_rows = len(next(iter(entities.values())))
    request_times = [event_timestamp] * n_rows
    present, not_found, missing = [PRESENT] * n_rows, [NOT_FOUND] * n_rows, [None] * n_rows
    yield from (Column(values, present, request_times) for values in entities.values())
    rows = row_seeds(entities)
    starts = _bucket_starts(event_timestamp)
    bucket_times: dict[int, list[int]] = {}  # one list per bucket start, shared
    per_block = max(1, block_values // n_rows)
    for first in range(0, len(features), per_block):
        block = features[first : first + per_block]
        typed = _typed_columns([deployed[n] for n in block if n in deployed], rows, starts)
        for name in block:
            spec = deployed.get(name)
            if spec is None:
                yield Column(missing, not_found, request_times)
                continue
            start = starts[spec.feature_type]
            times = bucket_times.get(start)
            if times is None:
                times = bucket_times[start] = [start] * n_rows
            yield Column(typed[spec.name], present, times)


def _bucket_starts(event_timestamp: int) -> dict[str, int]:
    """Feature type → ``bucket_start(event_timestamp, feature_type)``, once per request."""
    return {kind: event_timestamp - event_timestamp % size for kind, size in BUCKET_MS.items()}


@functools.lru_cache(maxsize=4096)
def _feature_key(feature_name: str, start: int) -> int:
    """``mix64(feature_seed ^ mix64(bucket_start))``: a few features at a time, so on
    Python ints (numpy's calls cost more on arrays this small), kept while the bucket lasts."""
    return _mix64(feature_seed(feature_name) ^ _mix64(start & MASK64))


def _mix64(x: int) -> int:
    """``mix64`` on one Python int, masked to 64 bits after each step as uint64 wraps."""
    z = (x + _GOLDEN_GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * _MIX_1) & MASK64
    z = ((z ^ (z >> 27)) * _MIX_2) & MASK64
    return z ^ (z >> 31)


def mix64_array(x: U64Array) -> U64Array:
    """splitmix64's finaliser (``mix64`` above) on every element; uint64 arithmetic wraps
    modulo 2**64 as the definition does."""
    z = x + _U64_GOLDEN_GAMMA
    z ^= z >> _U64_30
    z *= _U64_MIX_1
    z ^= z >> _U64_27
    z *= _U64_MIX_2
    z ^= z >> _U64_31
    return z


def row_seeds(entities: Mapping[str, Sequence[EntityValue]]) -> U64Array:
    """The row seed of every row: one BLAKE2b digest per key value, mixed column by column."""
    seeds: U64Array | None = None
    for column in sorted(entities):
        digests = _value_digests(column, entities[column])
        # Little-endian on every platform, then native uint64 for arithmetic (no copy where
        # they are the same; the array is only read).
        value_seeds = np.frombuffer(digests, dtype="<u8").astype(np.uint64, copy=False)
        # The first column's seeds start from 0, and 0 ^ x is x.
        seeds = mix64_array(value_seeds if seeds is None else seeds ^ value_seeds)
    if seeds is None:
        raise ValueError("at least one entity key column is needed")
    return seeds


def _value_digests(column: str, values: Sequence[EntityValue]) -> bytes:
    """The 8-byte digest of each value of a key column, concatenated. The column's prefix
    (and the value's type letter) is hashed once, into a state each value's hash copies:
    half the cost of a new hash object, keyword arguments parsed, per value."""
    prefix = column.encode("utf-8", "surrogatepass") + b"\0"
    as_string = hashlib.blake2b(prefix + b"s", digest_size=8, person=_ENTITY_TAG).copy
    as_integer = hashlib.blake2b(prefix + b"i", digest_size=8, person=_ENTITY_TAG).copy
    digests = []
    for value in values:
        if type(value) is str:
            state = as_string()
            try:  # plain UTF-8 is the same bytes, and faster, for any text but lone surrogates
                state.update(value.encode())
            except UnicodeEncodeError:
                state.update(value.encode("utf-8", "surrogatepass"))
        else:
            state = as_integer()
            state.update(str(value).encode())  # decimal digits: ASCII
        digests.append(state.digest())
    return b"".join(digests)


def _typed_columns(
    specs: Sequence[FeatureSpec], rows: U64Array, starts: Mapping[str, int]
) -> dict[str, Any]:
    """Feature name → typed values for every row, computed one data type at a time
    (``starts``: each feature type's bucket start, ``_bucket_starts``).

    The features are put in data-type order first, so that each type's keys are one slice
    of the key block (a view), not a copy gathered by a list of indexes."""
    if not specs:
        return {}
    by_type: dict[str, list[FeatureSpec]] = {}
    for spec in specs:
        group = by_type.get(spec.data_type)
        if group is None:
            by_type[spec.data_type] = [spec]
        else:
            group.append(spec)
    feature_keys = [
        _feature_key(spec.name, starts[spec.feature_type])
        for group in by_type.values()
        for spec in group
    ]
    keys = mix64_array(np.array(feature_keys, dtype=np.uint64)[:, np.newaxis] ^ rows)
    typed: dict[str, Any] = {}
    first = 0
    for data_type, group in by_type.items():
        block = _typed_block(keys[first : first + len(group)], data_type)
        # Indexed, not iterated: iterating a 2-D array ends by raising (and formatting) an
        # IndexError inside numpy.
        for index, spec in enumerate(group):
            typed[spec.name] = block[index]
        first += len(group)
    return typed


# The moduli and divisors as numpy scalars, made once.
_FLOAT_SCALES = {
    data_type: (np.uint64(modulus), np.float64(divisor))
    for data_type, (modulus, divisor) in FLOAT_SCALES.items()
}
_INTEGER_MODULI = {data_type: np.uint64(modulus) for data_type, modulus in INTEGER_MODULI.items()}
_U64_STRING_VARIANTS = np.uint64(STRING_VARIANTS)
_U64_BOOLEAN_THRESHOLD = np.uint64(1 << BOOLEAN_BIT)  # the top bit set: at or above it


def _typed_block(keys: U64Array, data_type: str) -> Any:
    """Each key read as a value of ``data_type`` (the tables above), on a 2-D block of keys
    (a row per feature)."""
    scale = _FLOAT_SCALES.get(data_type)
    if scale is not None:
        # (Converted first: ``np.true_divide`` of the uint64 remainders by a float64 gives
        # the same values, through a slower casting loop.)
        return (keys % scale[0]).astype(np.float64) / scale[1]
    modulus = _INTEGER_MODULI.get(data_type)
    if modulus is not None:
        return keys % modulus
    if data_type == DataType.BOOLEAN:
        return keys >= _U64_BOOLEAN_THRESHOLD  # the key's top bit
    if data_type == DataType.STRING:
        return _STRING_LABEL_ARRAY[keys % _U64_STRING_VARIANTS].tolist()  # a list per row
    raise ValueError(f"unknown feature data type {data_type!r}")
