"""A large body with a key given twice in an object (``api.repeated_keys``): built as orjson
builds it (the key once, at its first place, with its last value) without the values
replaced, and loaded by the serving schemas in place of orjson's document."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feature_gateway.api.body_outline import _outline_read
from feature_gateway.api.repeated_keys import document_without
from feature_gateway.shapes.outlines import ObjectOutline


def _built(body: bytes) -> Any:
    found, overridden = _outline_read(body, 0, ())
    assert found is not None and overridden is not None
    return document_without(body, overridden)


def _in_order(document: Any) -> bytes:
    """The document with its keys in their order (orjson writes a dict's order)."""
    return orjson.dumps(document)


@pytest.mark.parametrize(
    "body",
    [
        b'{"features": ["v:f"], "entities": {"id": [0, 0, 0], "id": [1]}}',
        b'{"a": 1, "b": {"x": [1], "y": 2, "x": {"z": 1, "z": [2]}}, "a": [3], "b": {"y": 0}}',
        b'{"e": {"k": 1, "j": 2, "k": 3, "k": [4, {"d": 1, "d": 2}]}, "z": 1.5e0, "e": {}}',
        b'{"e": {"k": 1, "j": 2, "k": 3}, "e": {"j": [1], "j": {"q": 1}}}',
    ],
)
def test_a_body_with_keys_given_twice_is_built_as_orjson_builds_it(body: bytes) -> None:
    assert _in_order(_built(body)) == _in_order(orjson.loads(body))


def test_a_member_said_to_be_given_again_that_is_not_gives_nothing() -> None:
    # As the outline would say if the keys of "a" and "b" had one hash.
    body = b'{"e": {"a": [1], "b": [2]}}'

    assert document_without(body, np.array([1])) is None
    assert document_without(body, np.array([1]), build=False) is None
    assert _in_order(document_without(body, np.array([], dtype=np.int64))) == _in_order(
        orjson.loads(body)
    )


_KEYS = st.sampled_from(["features", "entities", "id", "k", "a", "\u00e9"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False,
    allow_infinity=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=30,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _JSON, min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_any_object_with_keys_given_again_is_built_as_orjson_builds_it(
    document: dict[str, Any], rnd: random.Random
) -> None:
    body = _with_repeats(document, rnd)
    found, overridden = _outline_read(body, 0, ())
    parsed = orjson.loads(body)
    expected = _in_order(parsed)
    assert list(found) == list(parsed)
    for key, value in parsed.items():  # the outline counts what orjson keeps
        if isinstance(value, dict):
            lengths = [len(item) for item in value.values() if isinstance(item, list)]
            assert found[key] == ObjectOutline(len(value), max(lengths, default=0))
    if overridden is not None:
        assert _in_order(document_without(body, overridden)) == expected
        assert document_without(body, overridden, build=False) == {}


def _with_repeats(value: Any, rnd: random.Random) -> bytes:
    """``value`` as JSON, some members of its objects given before with another value, and
    some given again after with the same."""
    if isinstance(value, dict):
        members = [
            orjson.dumps(key) + b":" + _with_repeats(item, rnd) for key, item in value.items()
        ]
        spelled = []
        for (key, _), member in zip(value.items(), members, strict=True):
            if rnd.random() < 0.3:
                spelled.append(orjson.dumps(key) + b':[0,{"id":[1,2]}]')
            spelled.append(member)
            if rnd.random() < 0.2:
                spelled.append(member)
        return b"{" + b",".join(spelled) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(_with_repeats(item, rnd) for item in value) + b"]"
    return orjson.dumps(value)
