"""Feast's feature references, column names and timestamps (domain.feature_refs)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from feature_gateway.domain.feature_refs import (
    REF_PORTABLE_PATTERN,
    column_collisions,
    parse_ref,
    rfc3339,
)

REFS = {
    "driver:rate": ("driver", "rate", None),
    "driver@v2:rate": ("driver", "rate", 2),
    "driver:rate:3": ("driver", "rate", 3),
    "driver:rate:v3": ("driver", "rate", 3),
}
NOT_REFS = ["driver", "driver@v2:rate:3", "driver@v0:rate", "driver@2:rate", "driver:rate:0",
            "dri ver:rate", ":rate", "driver:", "a:" + "b" * 254]  # fmt: skip


@pytest.mark.parametrize(("ref", "parts"), REFS.items())
def test_each_spelling_of_a_ref_names_its_view_feature_and_version(ref, parts):
    parsed = parse_ref(ref)
    assert parsed is not None and (parsed.view, parsed.feature, parsed.version) == parts
    assert re.match(REF_PORTABLE_PATTERN, ref)


@pytest.mark.parametrize("text", NOT_REFS)
def test_anything_else_is_not_a_ref_in_python_nor_in_the_documented_pattern(text):
    assert parse_ref(text) is None
    if len(text) <= 255:
        assert not re.match(REF_PORTABLE_PATTERN, text)


def test_columns_are_named_like_feasts_server_names_them():
    plain, pinned = parse_ref("driver:rate"), parse_ref("driver:rate:2")
    assert plain is not None and pinned is not None
    assert (plain.column_name(False), pinned.column_name(False)) == ("rate", "rate")
    assert (plain.column_name(True), pinned.column_name(True)) == (
        "driver__rate",
        "driver@v2__rate",
    )
    assert (plain.full_name, pinned.full_name, pinned.family) == (
        None,
        "driver:rate:2",
        "driver:rate",
    )


def test_collisions_name_each_column_name_given_twice():
    refs = [parse_ref(r) for r in ("a:rate", "b:rate", "a@v2:x", "a:x:2", "a:id")]
    assert column_collisions(["id"], refs, False) == ["id", "rate", "x"]  # type: ignore[arg-type]
    assert column_collisions(["id"], refs, True) == ["a@v2__x"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1_751_414_400_000, "2025-07-02T00:00:00Z"),
        (1_751_429_485_123, "2025-07-02T04:11:25.123Z"),
        (1_751_429_485_007, "2025-07-02T04:11:25.007Z"),
    ],
)
def test_timestamps_are_rfc3339_utc_with_milliseconds_only_when_there_are_some(ms, text):
    assert rfc3339(ms) == text


@pytest.mark.parametrize(
    "ms",
    [0, 999, 86_399_999, 951_782_400_000, 1_751_429_485_123, 253_402_300_799_999, -1,
     -62_135_596_800_000, -30_610_224_000_000],
)  # fmt: skip
def test_timestamps_are_written_as_strftime_wrote_them(ms):
    # rfc3339 writes the date and time out itself (cheaper): the same text, years 1 to 9999
    seconds, millis = divmod(ms, 1000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert rfc3339(ms) == (f"{text}.{millis:03d}Z" if millis else f"{text}Z")
