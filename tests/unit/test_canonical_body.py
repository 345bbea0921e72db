"""A large body's canonical JSON read without building it (``api.canonical_body``): the
bytes orjson writes of orjson's document with its keys sorted, so that a keyed write's
fingerprint is the same whichever way it was taken; None where orjson refuses the body."""

from __future__ import annotations

import random
import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feature_gateway.api.canonical_body import canonical_pieces
from feature_gateway.domain.idempotency import fingerprint, fingerprint_of_canonical
from tests.json_bodies import json_documents, mangled

SORTED = orjson.OPT_SORT_KEYS


def _canonical(body: bytes) -> bytes | None:
    pieces = canonical_pieces(body, from_commas=0)
    return None if pieces is None else b"".join(bytes(piece) for piece in pieces)


def _orjsons(body: bytes) -> bytes | None:
    try:
        return orjson.dumps(orjson.loads(body), option=SORTED)
    except orjson.JSONDecodeError:
        return None


@pytest.mark.parametrize(
    "body",
    [
        b'{"b": 1, "a": {"d": [1.0, 1e2, 1E-2, -0, -0.0, 0.5e1], "c": null}, "": true}',
        b"[18446744073709551615, 18446744073709551616, -9223372036854775809, 1e-400]",
        b"[123456789012345678901234567890, 2.5e-7, 1e16, 1e15, 5e-324, 1.7976931348623157e308]",
        b'{"a": 1, "b": 2, "a": 3}',  # orjson keeps the last value
        b'{"k": {"x": [1], "y": 2, "x": {"z": 1, "z": [2]}}, "k": {"x": 0, "x": 1}}',
        b'{"\\u00e9": 1, "e": 2, "\\ud83d\\ude00": 3, "\\uffff": 4, "\\u0000": 5, "\\u007f": 6}',
        b'{"a": 1, "a\\u0000": 2, "a\\u0000b": 3, "ab": 4, "": 5}',  # a key another's start
        b'["\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\\u2028 \\u00e9", "\xc3\xa9\xe2\x82\xac"]',
        b' \t\r\n{"a" :[ ] , "b":{ } }\n',
        b'"\\ud83d\\ude00"',
        b"-0.0",
        b'[[[[]]], {}, [{}], {"a": [{"b": []}]}]',
    ],
)
def test_the_canonical_bytes_are_orjsons(body: bytes) -> None:
    assert _canonical(body) == _orjsons(body)


@pytest.mark.parametrize(
    "body",
    [
        b'["\\ud800"]',  # a lone first half: yajl reads "?"
        b'["\\ude00"]',
        b"[1]\x0c",  # form feed and vertical tab are whitespace to yajl only
        b"[\x0b1]",
        b"[1e400]",
        b"[1" + b"0" * 400 + b"]",
        b"[1,]",
        b"[1] x",
        b'["\xed\xa0\x80"]',
        b"[NaN]",
        b"\xef\xbb\xbf[1]",
        b'{"a":1,}',
        b"[" * 1_025 + b"]" * 1_025,  # deeper than orjson reads
    ],
)
def test_what_orjson_refuses_gives_no_canonical_bytes(body: bytes) -> None:
    assert _orjsons(body) is None
    assert _canonical(body) is None


def test_a_body_of_few_commas_is_left_to_orjson() -> None:
    assert canonical_pieces(b"[" + b"0," * 100 + b"0]") is None
    assert canonical_pieces(b"[" + b"0," * 16_384 + b"0]") is not None


@pytest.mark.parametrize(
    "keys",
    [
        [f"k{i}" for i in range(50_000)],  # sorted by numpy, the keys within its table
        [f"k{i % 5_000}" for i in range(20_000)],  # each given four times
        # Keys longer than numpy's table that start alike: their order told by Python.
        ["p" * 600 + str(i) for i in range(14_000)] + ["p" * 600, "p" * 599 + "q", "p"],
        [chr(0x20 + i % 900) * (1 + i % 7) + "\x00" * (i % 3) for i in range(30_000)],
        # No NUL: sorted in place, each key's place in its row (i30-refused).
        [chr(0x20 + i % 900) * (1 + i % 7) for i in range(30_000)],
        # Keys longer than the table, starting alike, beside ones of the table's width.
        [f"a{i % 3_000}" for i in range(9_000)]
        + ["a12" + "z" * (i % 40) + str(i % 700) for i in range(1_000)]
        + ["a1234567"[:length] for length in range(1, 9)],
        # The table as wide as all keys but the longest 1,024, which start alike.
        ["q" * (i % 300) + "cab"[i % 3] for i in range(6_000)],
    ],
)
def test_an_object_of_many_keys_is_sorted_as_orjson_sorts_it(keys: list[str]) -> None:
    members = [orjson.dumps(key) + b":" + orjson.dumps([i, str(i)]) for i, key in enumerate(keys)]
    random.Random(7).shuffle(members)
    body = b'{"z": 1, "inner": {' + b",".join(members) + b"}, " + b",".join(members) + b"}"
    assert _canonical(body) == _orjsons(body)


def test_an_object_of_many_keys_is_sorted_in_half_the_memory() -> None:
    # 150,000 unknown fields beside a create's: 7.7 MB traced with lexsort's arrays, 5.0 in
    # a table of the keys and their places (docs/performance.md, "i30-refused").
    known = {"feature_name": "a:b:1", "feature_data_type": "float", "description": "d"}
    body = orjson.dumps(known)[:-1] + b"," + b",".join(b'"u%d":0' % i for i in range(150_000))
    body += b"}"
    _canonical(body[:20_000] + b"}")  # ijson imported
    tracemalloc.start()
    try:
        canonical = _canonical(body)
        peak = tracemalloc.get_traced_memory()[1] - len(canonical or b"")
    finally:
        tracemalloc.stop()
    assert canonical == _orjsons(body)
    assert peak < 6_000_000, f"{peak:,} bytes traced"


_JSON = json_documents(["features", "entities", "id", "k", "a", "", "\u00e9", "\U0001f600"])


@settings(max_examples=300, deadline=None)
@given(_JSON, st.randoms(use_true_random=False))
def test_any_document_however_spelled_has_orjsons_canonical_bytes(
    document: Any, rnd: random.Random
) -> None:
    body = _respelled(document, rnd)
    assert _canonical(body) == orjson.dumps(document, option=SORTED) == _orjsons(body)


def _respelled(value: Any, rnd: random.Random) -> bytes:
    """``value`` as JSON with whitespace between its tokens, its keys in another order and
    some given twice (the first time with another value), its strings partly escaped."""
    space = rnd.choice([b"", b" ", b"\n\t "])
    if isinstance(value, dict):
        members = [(key, _respelled(item, rnd)) for key, item in value.items()]
        if members and rnd.random() < 0.3:
            members.insert(0, (members[-1][0], b"[1, {}]"))  # given again later
        rnd.shuffle(members[1:])  # the first stays before its repeat
        inner = (b"," + space).join(
            _string(key, rnd) + space + b":" + item for key, item in members
        )
        return b"{" + space + inner + space + b"}"
    if isinstance(value, list):
        return b"[" + (b"," + space).join(_respelled(item, rnd) for item in value) + b"]"
    if isinstance(value, str):
        return _string(value, rnd)
    return orjson.dumps(value)


def _string(text: str, rnd: random.Random) -> bytes:
    if rnd.random() < 0.5:
        return orjson.dumps(text)
    return ('"' + "".join(_escaped(char) for char in text) + '"').encode()


def _escaped(char: str) -> str:
    if ord(char) < 0x10000:
        return f"\\u{ord(char):04x}"
    high, low = divmod(ord(char) - 0x10000, 0x400)
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


_SEEDS = [
    b'{"features": ["a:b", "c\\u00e9"], "entities": {"id": [1, -2, 3.5e3, "x\\ud83d\\ude00"]},'
    b' "t": true, "n": null, "features": 1.0}',
    b'[{"a": []}, {}, "\\"\\\\\\/\\b\\f\\n\\r\\t", 0, -0.0e-0, 1E2]',
    '{"e": {"k": ["\u00e9\u20ac\U0001f600"], "j": [[1], {"x": 2, "x": 3}]}}'.encode(),
]


@settings(max_examples=2_000, deadline=None)
@given(st.randoms(use_true_random=False))
def test_a_mangled_body_has_canonical_bytes_only_if_orjson_parses_it(rnd: random.Random) -> None:
    body = mangled(rnd, _SEEDS)
    found = _canonical(body)
    if found is not None:
        assert found == _orjsons(body), body


@pytest.mark.parametrize(
    "body", [b'{"a": [1, 2.50], "b": "\\u00e9"}', b"[" + b"0," * 20_000 + b"0]"]
)
def test_the_fingerprint_of_the_canonical_bytes_is_the_documents(body: bytes) -> None:
    pieces = canonical_pieces(body, from_commas=0)
    assert pieces is not None
    meaning = {"query": [("a", "1")], "headers": [("If-Match", '"r1"'), ("X-User-Role", None)]}
    assert fingerprint_of_canonical("post", "/p", pieces, **meaning) == fingerprint(
        "post", "/p", orjson.loads(body), **meaning
    )


def test_a_stored_fingerprint_is_unchanged_both_ways() -> None:
    # The value main's code (187eea6) gave: a key stored before still matches its body.
    body = '{"b": [1, 2.5, "\u00e9"], "a": {"y": null, "x": true}}'.encode()
    meaning = {"query": [("q", "1")], "headers": [("If-Match", '"r1"'), ("X-User-Role", None)]}
    stored = "5e83d61f300c5c312820dabaa9ef42ba3bbfa9bc0afd5dd5d2f3801e81c78518"
    path = "/create_feature_metadata"
    assert fingerprint("post", path, orjson.loads(body), **meaning) == stored
    pieces = canonical_pieces(body, from_commas=0)
    assert pieces is not None
    assert fingerprint_of_canonical("post", path, pieces, **meaning) == stored
