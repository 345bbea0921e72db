"""Online serving: batch feature values (``POST /features``) and the served feature names.

Both endpoints take the seed's payloads as they are: no role is needed, but a role, if
given, must be a known one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import orjson
from flask import Response, current_app

from feature_gateway.api.blueprint import ApiBlueprint
from feature_gateway.api.context import read_counter, value_limits
from feature_gateway.api.problems import Problems
from feature_gateway.api.revisions import read_freshness
from feature_gateway.api.roles import consumer, require_any_role
from feature_gateway.api.values.schemas import (
    AvailableFeaturesSchema,
    FeatureValuesRequestSchema,
    FeatureValuesResponseSchema,
)
from feature_gateway.domain.values import Column, OnlineFeatures
from feature_gateway.framework_adapter import JSON_TYPE, json_response
from feature_gateway.services import feature_values
from feature_gateway.shapes import examples
from feature_gateway.shapes.role_schemas import RoleQuerySchema
from feature_gateway.web.context import database

blp = ApiBlueprint("values", __name__, description="Serve simulated values of deployed features")
# Bodies are sent in pieces of about this size, so a worker holds one piece of the largest
# answer at a time; an answer that fits in one is sent whole, with a Content-Length.
CHUNK_BYTES = 64 * 1024
# A list longer than this is written by orjson a piece of this many items at a time.
LIST_PIECE = 1024


@blp.route("/features", methods=["POST"], replicated=True)
@blp.arguments(FeatureValuesRequestSchema, example=examples.FEATURES)
@blp.response(200, FeatureValuesResponseSchema)
@blp.problems(Problems.VALUES)
def get_online_features(args: dict[str, Any]) -> Response:
    """Values of features for a batch of entity rows, column-oriented (Feast-style).

    Unknown and not-deployed features are answered with null values and status NOT_FOUND.
    """
    require_any_role(args.pop("user_role", None))
    request = feature_values.ValuesRequest(**args)
    result = feature_values.get_online_features(
        database(),
        request,
        limits=value_limits(),
        count_reads=read_counter(consumer()),
        freshness=read_freshness(),
    )
    return render_online_features(result)


def render_online_features(result: OnlineFeatures) -> Response:
    """The response body, written by orjson straight from the generator's columns.

    This is the largest response the service sends (up to a million values). Dumping it
    through FeatureValuesResponseSchema costs a field call per value, most of the time of a
    large answer (docs/performance.md, "Figures behind the code"); the columns already have
    their final shape and types, so orjson writes them as they are, numpy arrays included.
    The schema documents the response in the OpenAPI document, and the API tests load every body
    through it.
    """
    return columns_response({"feature_names": result.feature_names}, result.columns)


def columns_response(
    metadata: dict[str, Any],
    columns: Iterable[Column],
    timestamps: Callable[[Sequence[int]], Sequence[Any]] | None = None,
) -> Response:
    """``{"metadata": ..., "results": [column...]}``, each column's event timestamps as
    ``timestamps`` writes them (epoch ms as they are by default). A body larger than one
    chunk is streamed chunk by chunk as the columns are computed, so a worker never holds
    it whole; a smaller one is sent with its length."""
    chunks = _body_chunks(metadata, columns, timestamps)
    first = next(chunks)
    second = next(chunks, None)
    response_class = current_app._get_current_object().response_class  # type: ignore[attr-defined]
    if second is None:
        # Built as werkzeug's constructor builds it, without the constructor's general
        # path: 5 K instructions against 27 K (docs/performance.md, "i31-read", "i32-values").
        return json_response(response_class, first)
    # The content type as werkzeug writes it for the mimetype (no charset for JSON),
    # without its derivation on every response.
    body = itertools.chain((first, second), chunks)
    return response_class(body, content_type=JSON_TYPE)  # type: ignore[no-any-return]


def _body_chunks(
    metadata: dict[str, Any],
    columns: Iterable[Column],
    timestamps: Callable[[Sequence[int]], Sequence[Any]] | None,
) -> Iterator[bytes]:
    """The JSON body in pieces of at least CHUNK_BYTES, but the last and those around a
    large column's lists.

    Each column is ``{"values":…,"statuses":…,"event_timestamps":…}`` as orjson writes
    that dict. The engine shares its status and time lists among the columns, so each
    shared list is written once per response (``_SharedLists``), only the values each time.
    A column's list whose JSON is CHUNK_BYTES or more (thousands of rows) is a piece of
    its own, not copied into one: a column of 10,000 rows is about 450 kB of JSON, which
    a worker held twice, joined and then in a piece (docs/performance.md, "i28-memory").
    """
    shared = _SharedLists()
    pending, size = [b'{"metadata":', orjson.dumps(metadata), b',"results":['], 0
    for index, c in enumerate(columns):
        times = c.event_timestamps if timestamps is None else timestamps(c.event_timestamps)
        if len(c.statuses) <= LIST_PIECE:  # rows: the column joined
            values = orjson.dumps(c.values, option=orjson.OPT_SERIALIZE_NUMPY, default=_as_list)
            column = b"".join((b'{"values":', values, b',"statuses":', shared.json(c.statuses),
                               b',"event_timestamps":', shared.json(times), b"}"))  # fmt: skip
            pending += (b",", column) if index else (column,)
            size += len(column)
        else:  # thousands of rows: each list of CHUNK_BYTES or more a piece of its own
            if index:
                pending.append(b",")
            for part in (b'{"values":', _values_json(c.values), b',"statuses":',
                         shared.json(c.statuses), b',"event_timestamps":', shared.json(times),
                         b"}"):  # fmt: skip
                if len(part) >= CHUNK_BYTES:  # never first: '{"values":' is before it
                    yield b"".join(pending)
                    yield part
                    pending, size = [], 0
                else:
                    pending.append(part)
                    size += len(part)
        if size >= CHUNK_BYTES:
            yield b"".join(pending)
            pending, size = [], 0
    pending.append(b"]}")
    yield b"".join(pending)


def _values_json(values: Any) -> bytes:
    if type(values) is list and len(values) > LIST_PIECE:
        return _long_list_json(values)
    return orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY, default=_as_list)


class _SharedLists:
    """Each list's JSON, written once per response: keyed by the list's id, the list kept
    with it, so the id is not reused by another list while the response is written."""

    def __init__(self) -> None:
        self._written: dict[int, tuple[Sequence[Any], bytes]] = {}

    def json(self, items: Sequence[Any]) -> bytes:
        known = self._written.get(id(items))
        if known is None:
            known = self._written[id(items)] = (items, _list_json(items))
        return known[1]


def _list_json(items: Sequence[Any]) -> bytes:
    """The list as orjson writes it. The engine's status and time lists hold one string or
    one integer as many times as there are rows: such a list is written as that item's
    JSON repeated, the same bytes without a conversion per item (orjson took about 110 ns
    for each epoch-ms integer). Equal items are the same JSON for ``str`` and ``int``
    alike, the types a column declares for them (a ``bool`` or ``float`` equal to an int
    would not be: none is put there)."""
    if type(items) is list and items:
        first = items[0]
        if (type(first) is str or type(first) is int) and items.count(first) == len(items):
            item = orjson.dumps(first)
            return b"".join((b"[", (item + b",") * (len(items) - 1), item, b"]"))
        if len(items) > LIST_PIECE:
            return _long_list_json(items)
    return orjson.dumps(items, option=orjson.OPT_SERIALIZE_NUMPY, default=_as_list)


def _long_list_json(items: list[Any]) -> bytes:
    """A list longer than LIST_PIECE as orjson writes it, written a piece at a time, the
    pieces' items joined by commas as orjson joins them: orjson reserves about 250 bytes
    for each item of a list it writes (2 MB for 10,000 strings, for a 90 kB answer), a
    piece's 0.25 MB instead (docs/performance.md, "i28-memory")."""
    pieces = [b"["]
    for start in range(0, len(items), LIST_PIECE):
        piece = orjson.dumps(
            items[start : start + LIST_PIECE], option=orjson.OPT_SERIALIZE_NUMPY, default=_as_list
        )
        pieces += (piece[1:-1], b",")
    pieces[-1] = b"]"
    return b"".join(pieces)


def _as_list(value: Any) -> Any:
    """orjson writes only C-contiguous numpy arrays itself; any other goes through a list."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@blp.route("/features/available", methods=["GET"], replicated=True)
@blp.arguments(RoleQuerySchema, location="query")
@blp.response(200, AvailableFeaturesSchema)
@blp.problems(Problems.LIST_BY_QUERY)
def available_features(args: dict[str, Any]) -> dict[str, Any]:
    """Names of the features POST /features serves: deployed and deprecated ones."""
    require_any_role(args.get("user_role"))
    available = feature_values.available_features(database(), read_freshness())
    return {"available_features": available.names, "deprecated_features": available.deprecated}
