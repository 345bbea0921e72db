"""The rules a batch feature values request is held to: entity keys and size limits."""

from __future__ import annotations

import pytest

from feature_gateway.domain.value_requests import (
    RequestLimits,
    entity_value_problem,
    is_valid_entity_key,
)


@pytest.mark.parametrize("name", ["driver_id", "_x", "A1", "a" * 255])
def test_entity_key_names_are_identifiers(name):
    assert is_valid_entity_key(name)


@pytest.mark.parametrize("name", ["", "1id", "driver id", "driver-id", "a:b", "a" * 256])
def test_other_entity_key_names_are_refused(name):
    assert not is_valid_entity_key(name)


def test_entity_values_are_strings_or_64_bit_integers():
    assert entity_value_problem(["a", 1, -(2**63), 2**63 - 1, ""]) is None
    assert entity_value_problem(["a", True]) == (
        "Item 1: entity key values must be strings or integers, got a boolean."
    )
    assert "null" in (entity_value_problem([None]) or "")
    assert "fraction" in (entity_value_problem([1.0]) or "")
    assert "a list" in (entity_value_problem([[1]]) or "")
    assert "an object" in (entity_value_problem([{}]) or "")
    assert "64-bit" in (entity_value_problem([2**63]) or "")
    # what the JSON parser makes of 99999999999999999999999
    assert "64-bit" in (entity_value_problem([1e23]) or "")


def test_limits_report_every_violation():
    limits = RequestLimits(max_features=10, max_rows=100, max_values=500, max_columns=3)
    assert limits.violations(10, 50, 3) == {}
    assert set(limits.violations(11, 101, 1)) == {"features", "entities", "_schema"}
    assert list(limits.violations(6, 100, 1)) == ["_schema"]
    assert len(limits.violations(1, 101, 4)["entities"]) == 2
