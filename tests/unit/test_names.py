import pytest

from feature_gateway.domain.names import FeatureNameParts as FeatureName
from feature_gateway.domain.names import (
    canonical_feature_name,
    is_valid_feature_name,
    parse_feature_name,
)


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("driver_hourly_stats:conv_rate:1", FeatureName("driver_hourly_stats", "conv_rate", 1)),
        ("v:f:v2", FeatureName("v", "f", 2)),
        ("_private:_x9:10", FeatureName("_private", "_x9", 10)),
    ],
)
def test_well_formed_names_are_split_into_view_feature_and_version(name, parts):
    assert parse_feature_name(name) == parts


@pytest.mark.parametrize(
    "name",
    [
        "",
        "driver_hourly_stats:conv_rate",
        "driver_hourly_stats:conv_rate:0",
        "driver_hourly_stats:conv_rate:-1",
        "driver_hourly_stats:conv_rate:1.5",
        "driver_hourly_stats:conv_rate:V1",
        "1view:feature:1",
        "view:fea-ture:1",
        "view:feature:1:extra",
        "view:feature:1\n",
        "view feature:1",
        "vïew:feature:1",
        "a" * 252 + ":b:1",  # 256 characters
    ],
)
def test_malformed_names_are_rejected(name):
    assert not is_valid_feature_name(name)


def test_a_name_of_exactly_255_characters_is_accepted():
    name = "a" * 251 + ":b:1"
    assert len(name) == 255
    assert is_valid_feature_name(name)


def test_both_spellings_of_a_version_have_one_canonical_name():
    assert canonical_feature_name("view:feature:v2") == "view:feature:2"
    assert canonical_feature_name("view:feature:2") == "view:feature:2"
    with pytest.raises(ValueError, match="Invalid feature name"):
        canonical_feature_name("view:feature:v0")
