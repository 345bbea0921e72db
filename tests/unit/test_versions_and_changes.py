import pytest

from feature_gateway.domain.changes import (
    VERSIONED_FIELDS,
    changed_fields,
    definition_diff,
    unified_query_diff,
)
from feature_gateway.domain.versions import (
    family_name,
    next_version_name,
    number_of_key,
    version_key,
    version_number,
)


@pytest.mark.parametrize(
    ("name", "family", "number"),
    [
        ("driver_hourly_stats:conv_rate:1", "driver_hourly_stats:conv_rate", 1),
        ("driver_hourly_stats:conv_rate:v12", "driver_hourly_stats:conv_rate", 12),
    ],
)
def test_a_name_splits_into_its_family_and_version_number(name, family, number):
    assert family_name(name) == family
    assert version_number(name) == number


def test_the_next_version_is_numbered_after_the_highest_and_spelled_plainly():
    assert next_version_name("view:feat", 1) == "view:feat:2"
    assert next_version_name("view:feat", 41) == "view:feat:42"


def test_a_malformed_name_has_no_family():
    with pytest.raises(ValueError, match="Invalid feature name"):
        family_name("view:feat")


def test_changed_fields_lists_only_what_changed_with_from_and_to():
    before = {"description": "a", "query": "SELECT 1", "status": "DRAFT", "owner": "x"}
    after = {"description": "b", "query": "SELECT 1", "status": "DRAFT", "owner": None}
    assert changed_fields(before, after, before) == {
        "description": {"from": "a", "to": "b"},
        "owner": {"from": "x", "to": None},
    }


def test_a_new_feature_logs_every_set_field_from_null():
    after = {"feature_name": "v:f:1", "tags": {}, "owner": "dev", "approved_by": None}
    assert changed_fields({}, after, after) == {
        "feature_name": {"from": None, "to": "v:f:1"},
        "tags": {"from": None, "to": {}},
        "owner": {"from": None, "to": "dev"},
    }


def test_updated_time_and_revision_are_never_logged():
    before = {"updated_time": 1, "revision": 1, "description": "a"}
    after = {"updated_time": 2, "revision": 2, "description": "a"}
    assert changed_fields(before, after, after) == {}


def test_tags_compare_as_whole_objects():
    assert changed_fields({"tags": {"a": "1", "b": "2"}}, {"tags": {"b": "2", "a": "1"}},
                          ["tags"]) == {}  # fmt: skip
    assert changed_fields({"tags": {"a": "1"}}, {"tags": {"a": "2"}}, ["tags"]) == {
        "tags": {"from": {"a": "1"}, "to": {"a": "2"}}
    }


def test_the_diff_compares_the_definition_only():
    against = {"query": "SELECT 1", "owner": "a", "status": "DEPLOYED", "tags": {}}
    this = {"query": "SELECT 2", "owner": "a", "status": "DRAFT", "tags": {"t": "x"}}
    assert definition_diff(against, this) == {
        "query": {"from": "SELECT 1", "to": "SELECT 2"},
        "tags": {"from": {}, "to": {"t": "x"}},
    }


def test_the_query_diff_is_a_unified_diff_naming_both_versions():
    diff = unified_query_diff(
        "SELECT a\nFROM t\nWHERE id = ?",
        "SELECT a, b\nFROM t\nWHERE id = ?",
        against_name="v:f:1",
        this_name="v:f:2",
    )
    assert diff == (
        "--- v:f:1\n+++ v:f:2\n@@ -1,3 +1,3 @@\n-SELECT a\n+SELECT a, b\n FROM t\n WHERE id = ?\n"
    )


def test_equal_queries_have_an_empty_diff():
    assert unified_query_diff("SELECT 1", "SELECT 1", against_name="a", this_name="b") == ""


def test_version_keys_sort_like_numbers_of_any_size():
    numbers = [1, 2, 9, 10, 11, 99, 100, 2**63, 10**200]
    keys = [version_key(n) for n in numbers]
    assert sorted(keys) == keys
    assert [number_of_key(k) for k in keys] == numbers


def test_no_next_version_when_its_name_would_be_too_long():
    family = "v:" + "f" * 240
    assert next_version_name(family, 10**10 - 2) == f"{family}:{10**10 - 1}"
    assert next_version_name(family, 10**12) is None


def test_every_trigger_a_caller_fires_is_a_change_log_action():
    from feature_gateway.domain.changes import ChangeAction
    from feature_gateway.domain.lifecycle import fired_by_callers

    assert {t.name for t in fired_by_callers()} <= set(ChangeAction)


def test_versioned_fields_are_what_the_spec_compares():
    assert VERSIONED_FIELDS == (
        "feature_type", "feature_data_type", "query", "description", "owner", "tags"
    )  # fmt: skip
