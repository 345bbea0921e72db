"""The value generator: pinned outputs, buckets, ranges per data type, request rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from feature_gateway.domain.values import (
    BUCKET_MS,
    NOT_FOUND,
    PRESENT,
    FeatureSpec,
    bucket_start,
    digest64,
    feature_seed,
    simulate,
    simulate_columns,
)
from tests.value_oracle import mix64, row_seed, simulated_value, typed_value

SEED_TS = 1_751_429_485_000
DATA_TYPES = ("string", "float", "double", "decimal", "integer", "int", "bigint", "boolean")


def test_mix64_is_the_published_splitmix64():
    # The first outputs of splitmix64 seeded with 0 (Vigna's reference implementation).
    assert mix64(0) == 0xE220A8397B1DCDAF
    assert mix64(0x9E3779B97F4A7C15) == 0x6E789E6AA1B965F4


def test_hashes_are_pinned_so_no_platform_or_version_can_drift():
    assert digest64(b"fmg.feature", b"") == 0x448D3A7774DD20C3
    assert feature_seed("driver_hourly_stats:conv_rate:1") == 17298746950074242264
    assert row_seed({"driver_id": "D001"}) == 0xD2C65797BE2C09B9


def test_the_seed_example_values_are_pinned():
    spec = FeatureSpec("driver_hourly_stats:conv_rate:1", "batch", "float")
    assert [simulated_value(spec, {"driver_id": d}, SEED_TS) for d in ("D001", "D002")] == [
        0.3794,
        0.2552,
    ]


@pytest.mark.parametrize(
    ("data_type", "expected"),
    [
        ("string", "value_433"),
        ("float", 0.7433),
        ("double", 0.877433),
        ("decimal", 8774.33),
        ("integer", 433),
        ("int", 433),
        ("bigint", 619317877433),
        ("boolean", True),
    ],
)
def test_each_data_type_reads_the_same_key_its_own_way(data_type, expected):
    key = (2**63 // 10**12 + 1) * 10**12 + 619_317_877_433  # top bit set, known low digits
    assert typed_value(key, data_type) == expected


@pytest.mark.parametrize(
    ("feature_type", "expected"),
    [
        ("batch", 1_751_414_400_000),
        ("compute-first", 1_751_429_460_000),
        ("real-time", 1_751_429_485_000),
    ],
)
def test_buckets_start_at_the_utc_day_minute_and_second(feature_type, expected):
    assert (
        bucket_start(SEED_TS + 999 if feature_type == "real-time" else SEED_TS, feature_type)
        == expected
    )


def test_bucket_sizes_are_a_day_a_minute_and_a_second():
    assert BUCKET_MS == {"batch": 86_400_000, "compute-first": 60_000, "real-time": 1_000}


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_values_stay_in_the_documented_range(data_type):
    spec = FeatureSpec(f"ranges:{data_type}:1", "real-time", data_type)
    values = [simulated_value(spec, {"id": i}, SEED_TS) for i in range(2_000)]
    if data_type in ("float", "double"):
        digits = 4 if data_type == "float" else 6
        assert all(type(v) is float and 0 <= v < 1 for v in values)
        assert all(round(v, digits) == v for v in values)
    elif data_type == "decimal":
        assert all(type(v) is float and 0 <= v < 10_000 and round(v, 2) == v for v in values)
    elif data_type in ("integer", "int"):
        assert all(type(v) is int and 0 <= v < 1_000 for v in values)
    elif data_type == "bigint":
        assert all(type(v) is int and 0 <= v < 10**12 for v in values)
        assert max(values) > 2**32  # wider than a 32-bit integer
    elif data_type == "boolean":
        assert {type(v) for v in values} == {bool}
        assert 0.45 < sum(values) / len(values) < 0.55
    else:
        assert all(type(v) is str and v.startswith("value_") and len(v) == 9 for v in values)
    assert len(set(values)) > (1 if data_type == "boolean" else 100)


def test_floats_are_spread_evenly():
    spec = FeatureSpec("spread:value:1", "batch", "double")
    values = [simulated_value(spec, {"id": i}, 0) for i in range(10_000)]
    assert math.isclose(sum(values) / len(values), 0.5, abs_tol=0.02)


def test_row_seeds_ignore_column_order_but_not_types_or_names():
    assert row_seed({"a": "x", "b": 1}) == row_seed({"b": 1, "a": "x"})
    assert row_seed({"id": 7}) != row_seed({"id": "7"})
    assert row_seed({"id": 7}) != row_seed({"key": 7})
    assert row_seed({"a": "x", "b": "y"}) != row_seed({"a": "y", "b": "x"})


def test_features_and_buckets_change_the_value():
    row = {"id": "D001"}
    a = FeatureSpec("v:a:1", "real-time", "bigint")
    b = FeatureSpec("v:b:1", "real-time", "bigint")
    assert simulated_value(a, row, 0) != simulated_value(b, row, 0)
    assert simulated_value(a, row, 0) != simulated_value(a, row, 1_000)
    assert simulated_value(a, row, 0) == simulated_value(a, row, 999)


def test_simulate_lays_out_keys_then_features_with_their_statuses():
    spec = FeatureSpec("v:a:1", "compute-first", "integer")
    result = simulate(
        ["v:missing:1", "v:a:1"], {"v:a:1": spec}, {"id": ["x", "y"], "n": [1, 2]}, SEED_TS
    )

    assert result.feature_names == ["id", "n", "v:missing:1", "v:a:1"]
    keys, numbers, missing, found = result.columns
    assert list(keys.values) == ["x", "y"] and list(numbers.values) == [1, 2]
    assert list(keys.event_timestamps) == [SEED_TS] * 2
    assert list(missing.values) == [None, None]
    assert list(missing.statuses) == [NOT_FOUND] * 2
    assert list(missing.event_timestamps) == [SEED_TS] * 2
    assert list(found.statuses) == [PRESENT] * 2
    assert list(found.event_timestamps) == [1_751_429_460_000] * 2
    assert list(found.values) == [
        simulated_value(spec, {"id": "x", "n": 1}, SEED_TS),
        simulated_value(spec, {"id": "y", "n": 2}, SEED_TS),
    ]


def _cells(result, n_keys):
    """Feature columns as plain Python lists (numeric columns are numpy arrays)."""
    return [
        c.values.tolist() if isinstance(c.values, np.ndarray) else list(c.values)
        for c in result.columns[n_keys:]
    ]


@pytest.mark.parametrize("feature_type", ["batch", "compute-first", "real-time"])
def test_the_vectorised_generator_equals_the_definition_cell_by_cell(feature_type):
    specs = {
        f"v:{t}:{i}": FeatureSpec(f"v:{t}:{i}", feature_type, t)
        for t in DATA_TYPES
        for i in (1, 2)
    }
    entities = {
        "driver_id": ["D001", "", "é漢字", "\ud800", "D001", "x" * 300],
        "n": [0, -1, 2**63 - 1, -(2**63), 42, 7],
    }
    ts = SEED_TS + 12_345

    result = simulate(list(specs), specs, entities, ts)

    rows = [dict(zip(entities, r, strict=True)) for r in zip(*entities.values(), strict=True)]
    expected = [[simulated_value(spec, row, ts) for row in rows] for spec in specs.values()]
    cells = _cells(result, 2)
    assert cells == expected
    assert [[type(v) for v in column] for column in cells] == [
        [type(v) for v in column] for column in expected
    ]


def test_the_vectorised_generator_handles_a_single_row_and_key_order():
    spec = FeatureSpec("v:one:1", "batch", "double")
    one = simulate([spec.name], {spec.name: spec}, {"b": [1], "a": ["x"]}, 0)
    other = simulate([spec.name], {spec.name: spec}, {"a": ["x"], "b": [1]}, 0)
    assert _cells(one, 2) == _cells(other, 2) == [[simulated_value(spec, {"a": "x", "b": 1}, 0)]]


def test_simulate_without_deployed_features_answers_not_found_only():
    result = simulate(["v:a:1", "v:b:1"], {}, {"id": [1, 2, 3]}, 5)
    assert [list(c.statuses) for c in result.columns[1:]] == [[NOT_FOUND] * 3] * 2


@pytest.mark.parametrize("block_values", [1, 5, 12, 10_000])
def test_columns_computed_block_by_block_equal_the_whole(block_values):
    specs = {f"v:{t}:1": FeatureSpec(f"v:{t}:1", "real-time", t) for t in DATA_TYPES}
    features = ["v:absent:1", *specs, "v:absent:2"]
    entities = {"id": ["a", "b", "c", "d", "e"]}

    blocks = list(simulate_columns(features, specs, entities, SEED_TS, block_values))
    whole = simulate(features, specs, entities, SEED_TS).columns

    def plain(columns):
        return [
            [list(getattr(c, part)) for part in ("values", "statuses", "event_timestamps")]
            for c in columns
        ]

    assert plain(blocks) == plain(whole)
    assert len(blocks) == 1 + len(features)
