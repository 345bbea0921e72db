"""``POST /features``' body as written in pieces: the same bytes as orjson writes the whole
answer, and one piece (sent with its length) exactly when the columns are small."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from feature_gateway.api.values.routes import CHUNK_BYTES, LIST_PIECE, _body_chunks
from feature_gateway.domain.values import (
    NOT_FOUND,
    PRESENT,
    FeatureSpec,
    simulate_columns,
)

T0 = 1_751_429_485_000
DATA_TYPES = ("string", "float", "integer", "boolean", "decimal")


def _whole(metadata: dict[str, Any], columns: list[Any]) -> bytes:
    results = [
        {"values": c.values, "statuses": c.statuses, "event_timestamps": c.event_timestamps}
        for c in columns
    ]
    return orjson.dumps(
        {"metadata": metadata, "results": results},
        option=orjson.OPT_SERIALIZE_NUMPY,
        default=lambda value: value.tolist(),
    )


SHAPES = [(1, 1), (10, 100), (3, LIST_PIECE - 1), (3, LIST_PIECE), (2, LIST_PIECE + 1),
          (12, 2 * LIST_PIECE + 3), (4, 10_000), (1_000, 30)]  # fmt: skip


@pytest.mark.parametrize("n_features, n_rows", SHAPES)
def test_the_pieces_are_the_answer_orjson_writes_whole(n_features, n_rows):
    deployed = {
        f"v:f{i}:1": FeatureSpec(f"v:f{i}:1", "batch", DATA_TYPES[i % len(DATA_TYPES)])
        for i in range(0, n_features, 2)  # every other feature NOT_FOUND: null values
    }
    names = [f"v:f{i}:1" for i in range(n_features)]
    entities = {"id": [f"D{i:05d}" for i in range(n_rows)], "n": list(range(n_rows))}
    metadata = {"feature_names": names}
    columns = list(simulate_columns(names, deployed, entities, T0))
    assert {s for c in columns for s in c.statuses} == {PRESENT, NOT_FOUND} or n_features == 1
    pieces = list(_body_chunks(metadata, iter(columns), None))
    assert b"".join(pieces) == _whole(metadata, columns)
    assert all(pieces)  # an empty piece would end a chunked answer early
    # One piece (a Content-Length) exactly when the columns' JSON is under CHUNK_BYTES.
    columns_bytes = sum(
        len(_whole({}, [c])) - len(b'{"metadata":{},"results":[]}') for c in columns
    )
    assert (len(pieces) == 1) == (columns_bytes < CHUNK_BYTES)


def test_a_long_list_of_any_json_items_is_written_as_orjson_writes_it():
    from feature_gateway.api.values.routes import _long_list_json

    items: list[Any] = [None, True, 'x\u00e9"', 1.5, -(2**63), 2**64 - 1, "", 0.1] * 1_000
    for length in (LIST_PIECE + 1, 2 * LIST_PIECE, 3 * LIST_PIECE - 1, len(items)):
        assert _long_list_json(items[:length]) == orjson.dumps(items[:length])
