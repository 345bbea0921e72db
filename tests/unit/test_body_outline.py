"""A large body's outline (``api.body_outline``): given only for a body orjson parses, with
the keys and sizes orjson's document has; otherwise None, and the body is parsed as before."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feature_gateway.api.body_outline import (
    MAX_OUTLINED_KEYS,
    ORJSON_MAX_DEPTH,
    WideOutline,
    opens_past_orjsons_depth,
    outline,
)
from feature_gateway.api.values.feast_schemas import OnlineFeaturesRequestSchema
from feature_gateway.api.values.schemas import FeatureValuesRequestSchema, request_size
from feature_gateway.shapes.outlines import ArrayOutline, ObjectOutline
from tests.json_bodies import json_documents, mangled


def _outlined(body: bytes) -> Any:
    return outline(body, from_commas=0)


def _parsed(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _same(found: Any, document: Any) -> None:
    """``found`` outlines ``document``: the same top-level keys in order, scalar values,
    sizes."""
    if not isinstance(document, dict):
        if isinstance(document, list):
            assert found == ArrayOutline(len(document))
        else:
            assert found == document
        return
    assert list(found) == list(document)
    assert request_size(found) == request_size(document)
    for key, value in document.items():
        if isinstance(value, list):
            assert found[key] == ArrayOutline(len(value))
        elif isinstance(value, dict):
            assert isinstance(found[key], ObjectOutline)
            assert found[key] == ObjectOutline(
                len(value), max((len(v) for v in value.values() if isinstance(v, list)), default=0)
            )
        else:
            assert found[key] == value


def test_orjson_refuses_nesting_past_the_depth_the_outline_stops_at() -> None:
    assert orjson.loads(b"[" * ORJSON_MAX_DEPTH + b"]" * ORJSON_MAX_DEPTH)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(b"[" * (ORJSON_MAX_DEPTH + 1) + b"]" * (ORJSON_MAX_DEPTH + 1))
    deepest = b"[" * ORJSON_MAX_DEPTH + b"]" * ORJSON_MAX_DEPTH
    assert _outlined(deepest) == ArrayOutline(1)
    assert _outlined(b"[" + deepest + b"]") is None


def test_a_million_values_are_counted() -> None:
    body = orjson.dumps({"features": ["a:b"], "entities": {"id": [0] * 1_000_000, "k": [1]}})
    assert outline(body) == {
        "features": ArrayOutline(1),
        "entities": ObjectOutline(keys=2, longest_array=1_000_000),
    }
    assert request_size(outline(body)) == (1, 1_000_000, 2)


def test_a_body_with_few_values_is_left_to_orjson() -> None:
    body = orjson.dumps({"features": ["a:b"], "entities": {"id": ["x" * 100_000]}})
    assert outline(body) is None


@pytest.mark.parametrize(
    "body",
    [
        b'["\\ud800"]',  # a lone first half: yajl reads "?"
        b'["\\ud83d x"]',
        b'["\\ud83d\\ud83d\\ude00"]',
        b'["\\ud83d\\\\ude00"]',  # then an escaped backslash
        b'["\\ude00"]',
        b"[1]\x0c",  # form feed and vertical tab are whitespace to yajl only
        b"[\x0b1]",
        b"[1e400]",
        b"[-1e400]",
        b"[1" + b"0" * 400 + b"]",
        b"[1,]",
        b"[1] x",
        b'["\xed\xa0\x80"]',  # a surrogate in UTF-8
        b'["\xc0\xaf"]',
        b"[NaN]",
        b"[1/*c*/]",
        b"\xef\xbb\xbf[1]",
        b'{"a":1,}',
    ],
)
def test_what_orjson_refuses_is_not_outlined(body: bytes) -> None:
    assert _parsed(body) is None
    assert _outlined(body) is None


@pytest.mark.parametrize(
    "body",
    [
        b'["\\ud83d\\ude00", "\\\\ud800", "\\\\\\ud83d\\ude00"]',
        b'{"a": "\\ud83d\\ude00"}',
        b"[18446744073709551615, -9223372036854775808, 1e308, 1e-400, -0.0]",
        b' \t\r\n{"a": [] }\n',
    ],
)
def test_what_orjson_parses_is_outlined_alike(body: bytes) -> None:
    _same(_outlined(body), orjson.loads(body))


def test_a_key_given_twice_counts_once_with_its_last_value() -> None:
    body = b'{"features": [1, 2], "x": 0, "features": [1], "entities": {"id": [1, 2]}}'
    found = _outlined(body)
    _same(found, orjson.loads(body))
    assert list(found) == ["features", "x", "entities"]
    for below in (
        b'{"entities": {"id": [1, 2, 3], "id": [1]}}',
        b'{"entities": {"id": [1], "k": [1, 2], "id": [1, 2, 3], "id": 0, "k": []}}',
        b'{"entities": {"id": [1], "id": [1, 2, 3]}, "entities": {"a": [1], "a": [1, 2]}}',
    ):
        _same(_outlined(below), orjson.loads(below))


def test_the_hooks_before_the_limits_read_only_what_an_outline_keeps() -> None:
    # ValuesRequestSchema.answered_by_outline relies on it: a new load hook that runs
    # before _within_limits must read only top-level keys and scalar values.
    for schema in (FeatureValuesRequestSchema(), OnlineFeaturesRequestSchema()):
        hooks = [name for name, *_ in schema._hooks["pre_load"]]
        assert hooks[: hooks.index("_within_limits")] in (
            ["_few_unknown_fields"],
            ["_few_unknown_fields", "_no_feature_service"],
        )


_JSON = json_documents(["features", "entities", "id", "k", "a", "\u00e9", "\U0001f600"])


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_any_document_is_outlined_as_orjson_parses_it(document: Any) -> None:
    body = orjson.dumps(document)
    _same(_outlined(body), orjson.loads(body))


_SEEDS = [
    b'{"features": ["a:b", "c\\u00e9"], "entities": {"id": [1, -2, 3.5e3, "x\\ud83d\\ude00"]},'
    b' "t": true, "n": null}',
    b'[{"a": []}, {}, "\\"\\\\\\/\\b\\f\\n\\r\\t", 0, -0.0e-0]',
    '{"e": {"k": ["\u00e9\u20ac\U0001f600"], "j": [[1], {"x": 2}]}}'.encode(),
]


@settings(max_examples=2_000, deadline=None)
@given(st.randoms(use_true_random=False))
def test_a_mangled_body_is_outlined_only_if_orjson_parses_it_alike(rnd: random.Random) -> None:
    body = mangled(rnd, _SEEDS)
    found, document = _outlined(body), _parsed(body)
    if found is not None:
        assert document is not None, body
        _same(found, document)


def _feature_request_schemas() -> list[Any]:
    from feature_gateway.api.features.schemas import UpdateFeatureSchema
    from feature_gateway.shapes.feature_schemas import (
        CreateFeatureSchema,
        CreateVersionSchema,
        trigger_request_schema,
    )
    from feature_gateway.shapes.trigger_endpoints import WORKFLOW_ENDPOINTS

    triggers = [trigger_request_schema(e.trigger, e.schema_name) for e in WORKFLOW_ENDPOINTS]
    return [CreateFeatureSchema, CreateVersionSchema, UpdateFeatureSchema, *triggers]


def test_the_hooks_of_a_features_request_read_only_what_an_outline_keeps() -> None:
    # body_outline.outline_for relies on it for every schema with outline_answers: the
    # first hook answers a body of over MAX_ERROR_MESSAGES unknown fields; the others read
    # top-level keys only; no other hook may read an outlined value.
    for schema_class in _feature_request_schemas():
        schema = schema_class()
        assert schema.outline_answers
        hooks = {
            kind: [name for name, *_ in found] for kind, found in schema._hooks.items() if found
        }
        assert set(hooks) <= {"pre_load", "validates_schema"}
        assert hooks["pre_load"][0] == "_few_unknown_fields"
        assert set(hooks["pre_load"]) <= {"_few_unknown_fields", "_status_is_not_editable"}
        assert set(hooks.get("validates_schema", [])) <= {"_something_to_update"}


def test_a_wide_object_keeps_its_first_keys_and_those_asked_for_and_counts_the_rest() -> None:
    keys = [f"u{i}" for i in range(3_000)]
    body = orjson.dumps({**{key: [1, 2] for key in keys}, "late": "x", "later": {"a": [1]}})
    found = outline(body, from_commas=0, keep=["later"])
    assert type(found) is WideOutline
    assert list(found) == [*keys[:MAX_OUTLINED_KEYS], "later"]
    assert found["later"] == ObjectOutline(keys=1, longest_array=1)
    assert found.more_keys == 3_000 - MAX_OUTLINED_KEYS + 1  # "late" too
    repeated = orjson.dumps(dict.fromkeys(keys, 0))[:-1] + b',"u2999":1}'
    assert outline(repeated, from_commas=0) is None  # a key left out may be given twice


def _opened(rnd: random.Random, count: int) -> tuple[bytes, bytes]:
    """``count`` arrays or objects (each with its first key, some escaped) opened one in
    another, JSON's whitespace between; and what closes them."""
    space = [b"", b" ", b"\n", b"\t ", b"\r\n"]
    keys = [b'"k"', b'""', b'"a\\"b"', b'"\\u00e9\\\\"', b'"\xc3\xa9"']
    arrays = [rnd.random() < 0.5 for _ in range(count)]
    opened = b"".join(
        rnd.choice(space) + (b"[" if array else b"{" + rnd.choice(space) + rnd.choice(keys) + b":")
        for array in arrays
    )
    return opened, b"".join(b"]" if array else b"}" for array in reversed(arrays))


@pytest.mark.parametrize("count", [ORJSON_MAX_DEPTH - 1, ORJSON_MAX_DEPTH, ORJSON_MAX_DEPTH + 1])
@pytest.mark.parametrize("seed", range(4))
def test_a_body_opening_past_orjsons_depth_is_one_orjson_refuses(seed: int, count: int) -> None:
    opened, closes = _opened(random.Random(seed), count)
    past = opens_past_orjsons_depth(opened + b"0" + closes)
    assert past == (count > ORJSON_MAX_DEPTH)
    if past:
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(opened + b"0" + closes)
    else:
        orjson.loads(opened + b"0" + closes)
    # Whatever follows the opened containers, even nothing.
    assert opens_past_orjsons_depth(opened + b"x" * 100) == past
    assert opens_past_orjsons_depth(b"[" * 1_000_000) and opens_past_orjsons_depth(opened * 2)
    assert not opens_past_orjsons_depth(b" x" + opened) and not opens_past_orjsons_depth(b"")
