"""A large JSON body's canonical bytes, read without building it (docs/performance.md,
"i29-bodies").

A keyed write's fingerprint (``domain.idempotency``) is taken over the body as canonical
JSON: orjson's bytes of the parsed body with every object's keys sorted, so that the same
JSON however it was spelled is the same request. Parsing a 2 MB body of a million values
to get there took a worker 26 MB higher, for a write its schema then refuses. For a body of
``OUTLINED_FROM_COMMAS`` commas or more, ``canonical_pieces`` gives the same bytes from
yajl's events (through ijson, as ``api.body_outline``) without the document: each scalar
as orjson writes it, read as orjson reads it (a fraction, an exponent or an integer beyond
64 bits a float); an array's items in order; an object's members sorted by their keys'
UTF-8 bytes (orjson sorts ``str`` keys by their bytes, which is Python's order of code
points), a key given twice keeping its last value (orjson's ``dict``). What is kept while
reading is bytes, not objects: each open container's canonical bytes so far and, for an
object, its keys' bytes and where each ends; an object of many keys is sorted with numpy
over a table of its keys' first bytes. ``tests/unit/test_canonical_body.py`` compares the
bytes with orjson's on generated and mangled bodies.

A body yajl and orjson may read differently gives None (``unlike_orjson``, a number beyond
a double, nesting past ``ORJSON_MAX_DEPTH``), as does one yajl refuses: the fingerprint is
then taken from orjson's document, as before, or the body is refused as before.
"""

from __future__ import annotations

import io
from array import array
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson

from feature_gateway.api.body_outline import (
    ORJSON_MAX_DEPTH,
    OUTLINED_FROM_COMMAS,
    PIECE_BYTES,
    as_orjson_reads,
    beyond_a_double,
    unlike_orjson,
)

# An object of fewer keys is sorted by Python (a bytes object a key, for the sort's while);
# one of more, by numpy over a table of its keys' first bytes, at most this many bytes big.
_SORTED_BY_NUMPY_FROM = 4_096
_KEY_TABLE_BYTES = 8 * 1024 * 1024
# The table is filled this many keys at a time; each row ends with a byte saying whether
# the key is longer than the table and four of its place. At most this many keys are
# longer than the table (then ordered by Python where the table leaves them tied).
_TABLE_ROWS_AT_ONCE = 4_096
_FLAG_AND_PLACE_BYTES = 5
_KEYS_PAST_THE_TABLE = 1_024
# The top-level object's canonical bytes are handed over in pieces of about this size.
_HANDED_BYTES = 64 * 1024
# Where a container's members end, in its bytes: 32 bits. A body's canonical bytes may be
# a few times its own (``1e15`` is ``1000000000000000.0``), so only bodies of up to 256 MB
# are read here (the body limit is 2 MB).
_OFFSETS = "i"
_MOST_BYTES = 2**28
# An array's scalars are written this many at a time.
_WRITTEN_TOGETHER = 1_024
_SCALAR_EVENTS = frozenset({"number", "string", "boolean", "null"})


def canonical_pieces(
    body: bytes, from_commas: int = OUTLINED_FROM_COMMAS
) -> Iterator[bytes | bytearray | memoryview] | None:
    """``orjson.dumps(orjson.loads(body), option=OPT_SORT_KEYS)`` in pieces, or None: a
    body of fewer than ``from_commas`` commas (parse it), one yajl and orjson may read
    differently, or one yajl refuses. The body is read whole before the first piece."""
    if len(body) > _MOST_BYTES or body.count(b",") < from_commas:
        return None
    if unlike_orjson(body):
        return None
    # Imported here, for large bodies only (as api.body_outline).
    from ijson import JSONError
    from ijson.backends import yajl2_c

    events = yajl2_c.basic_parse(io.BytesIO(body), buf_size=PIECE_BYTES)
    try:
        top = _read(events)
    except (JSONError, ValueError):  # malformed, or a string that is not UTF-8
        return None
    if top is None:
        return None
    if type(top) is _Object:
        return top.pieces()
    return iter((top,))


class _Object:
    """An open object: its values' canonical bytes one after another (``values``, each
    ending at ``value_ends``; one of ``_HANDED_BYTES`` or more kept apart in ``large``, by
    its place, not copied), its keys' UTF-8 bytes the same way (``keys``, ``key_ends``)."""

    __slots__ = ("key_ends", "keys", "large", "value_ends", "values")

    def __init__(self) -> None:
        self.values = bytearray()
        self.value_ends = array(_OFFSETS)
        self.large: dict[int, bytearray] = {}
        self.keys = bytearray()
        self.key_ends = array(_OFFSETS)

    def add(self, value: bytes | bytearray) -> None:
        if len(value) >= _HANDED_BYTES and type(value) is bytearray:
            self.large[len(self.value_ends)] = value
        else:
            self.values += value
        self.value_ends.append(len(self.values))

    def pieces(self) -> Iterator[bytes | bytearray | memoryview]:
        """Its canonical bytes: the members in the keys' order, the last of a key given
        twice; small ones joined into pieces of about ``_HANDED_BYTES``."""
        keys, key_ends = self.keys, self.key_ends
        piece, separator = bytearray(b"{"), b""
        held, held_key = -1, bytearray()  # a member written when the next key differs
        for index in _in_order(_key_order(keys, key_ends), len(key_ends)):
            key = (
                keys[key_ends[index - 1] if index else 0 : key_ends[index]] if index >= 0 else b""
            )
            if held >= 0 and (index < 0 or key != held_key):  # else given again: the last kept
                piece += separator
                separator = b","
                piece += orjson.dumps(held_key.decode())
                piece += b":"
                value = self._value(held)
                if len(value) < _HANDED_BYTES:
                    piece += value
                else:
                    yield piece
                    yield value
                    piece = bytearray()
                if len(piece) >= _HANDED_BYTES:
                    yield piece
                    piece = bytearray()
            held, held_key = index, key  # type: ignore[assignment]
        piece += b"}"
        yield piece

    def _value(self, index: int) -> bytearray | memoryview:
        found = self.large.get(index)
        if found is not None:
            return found
        ends = self.value_ends
        return memoryview(self.values)[ends[index - 1] if index else 0 : ends[index]]


def _in_order(order: Any, count: int) -> Iterator[int]:
    """The places in ``order`` (a list, or numpy's array of them read a thousand at a time:
    its ``tolist()`` whole would be 36 bytes a member), then -1."""
    if type(order) is list:
        yield from order
    else:
        for first in range(0, count, 1_024):
            yield from order[first : first + 1_024].ravel().tolist()
    yield -1


def _read(events: Any) -> Any:
    """The top-level value: canonical bytes (a scalar or an array) or an ``_Object``; None
    for what orjson refuses and yajl reads (a number beyond a double, too deep).

    An array's scalars wait in ``waiting`` and are written by one ``orjson.dumps`` of up to
    ``_WRITTEN_TOGETHER`` of them (orjson writes a list's items with commas between)."""
    open_: list[Any] = []  # the containers open: a bytearray for an array, or an _Object
    counts: list[int] = []  # each open array's items written so far (not those waiting)
    waiting: list[Any] = []  # the innermost array's scalars not yet written
    top: Any = None
    scalars, dumps, reads, beyond = _SCALAR_EVENTS, orjson.dumps, as_orjson_reads, beyond_a_double
    in_array = False
    for event, value in events:
        if event in scalars:
            if event == "number":
                if beyond(value):
                    return None
                value = reads(value)
            if in_array:
                waiting.append(value)
                if len(waiting) >= _WRITTEN_TOGETHER:
                    _write_waiting(open_[-1], counts, waiting)
                continue
            done: Any = dumps(value)
        elif event == "map_key":
            container = open_[-1]
            container.keys += value.encode()
            container.key_ends.append(len(container.keys))
            continue
        elif event == "start_array" or event == "start_map":
            if len(open_) >= ORJSON_MAX_DEPTH:
                return None
            if waiting:
                _write_waiting(open_[-1], counts, waiting)
            in_array = event == "start_array"
            open_.append(bytearray(b"[") if in_array else _Object())
            counts.append(0)
            continue
        else:
            if waiting:
                _write_waiting(open_[-1], counts, waiting)
            done = open_.pop()
            counts.pop()
            if type(done) is _Object:
                done = _joined(done) if open_ else done
            else:
                done += b"]"
        if not open_:
            top = done
            continue
        container = open_[-1]
        in_array = type(container) is bytearray
        if not in_array:
            container.add(done)
        else:
            if counts[-1]:
                container += b","
            container += done
            counts[-1] += 1
    return top


def _write_waiting(array_: bytearray, counts: list[int], waiting: list[Any]) -> None:
    if counts[-1]:
        array_ += b","
    array_ += memoryview(orjson.dumps(waiting))[1:-1]
    counts[-1] += len(waiting)
    waiting.clear()


def _joined(found: _Object) -> bytearray:
    joined = bytearray()
    for piece in found.pieces():
        joined += piece
    return joined


def _key_order(keys: bytearray, key_ends: array[int]) -> Any:
    """The members' places in the order of their keys' bytes; equal keys in the order given
    (a stable sort)."""
    count = len(key_ends)
    if count < _SORTED_BY_NUMPY_FROM:
        starts = [0, *key_ends[:-1]]
        return sorted(range(count), key=lambda i: keys[starts[i] : key_ends[i]])
    ends = np.frombuffer(key_ends, dtype=np.int32)
    if b"\0" not in keys:
        width = _table_width(ends)
        if count * (width + _FLAG_AND_PLACE_BYTES) <= _KEY_TABLE_BYTES:
            return _sorted_in_place(keys, ends, width)
    starts_ = np.zeros(count, dtype=np.int32)
    starts_[1:] = ends[:-1]
    lengths = ends - starts_
    longest = int(lengths.max())
    width = max(1, min(longest, _KEY_TABLE_BYTES // count))
    table = np.zeros((count, width), dtype=np.uint8)
    _fill(table, keys, ends, width)
    firsts = table.view(f"S{width}").ravel()  # compared as unsigned bytes, NULs padding
    del table
    # By the first bytes, then the length (a key that is another's start comes first);
    # lexsort is stable, so equal keys stay in the order given.
    order = np.lexsort((lengths, firsts))
    if longest <= width:
        return order
    return _past_the_table(order, firsts, lengths, width, keys, starts_, ends)


def _table_width(ends: Any) -> int:
    """The least width that all keys but at most ``_KEYS_PAST_THE_TABLE`` fit."""
    lengths = np.diff(ends, prepend=np.int32(0))
    kept = len(lengths) - _KEYS_PAST_THE_TABLE - 1
    if kept < 0:
        return max(1, int(lengths.max()))
    lengths.partition(kept)
    return max(1, int(lengths[kept]))


def _sorted_in_place(keys: bytearray, ends: Any, width: int) -> Any:
    """The members' places as ``_key_order`` gives them, for keys without a NUL: a table of
    a row a key (its first ``width`` bytes, NULs after a shorter one; 1 if it is longer, else
    0; its place, big-endian) sorted in place as bytes, every row differing by its place. A
    key is after any key it starts (a NUL is the least byte, and a longer key's 1 is after a
    key of ``width`` bytes' 0), equal keys by their places; keys longer than the table that
    start alike (at most ``_KEYS_PAST_THE_TABLE``) are then ordered by Python. No array of
    lengths and none of 64-bit places: about half of ``lexsort``'s peak."""
    count, row = len(ends), width + _FLAG_AND_PLACE_BYTES
    table = np.zeros((count, row), dtype=np.uint8)
    _fill(table, keys, ends, width + 1)  # the key's byte past the table: nonzero if longer
    for first in range(0, count, _TABLE_ROWS_AT_ONCE):
        rows = table[first : first + _TABLE_ROWS_AT_ONCE]
        np.minimum(rows[:, width], 1, out=rows[:, width])
        places = np.arange(first, first + len(rows), dtype=">u4")
        rows[:, width + 1 :] = places.view(np.uint8).reshape(-1, 4)
    table.view(f"S{row}").sort(axis=0)
    order = table[:, width + 1 :].view(">u4").astype(np.int32).ravel()
    longer = np.flatnonzero(table[:, width])
    if len(longer) > 1:
        firsts = table[longer, :width]
        alike = (longer[1:] == longer[:-1] + 1) & (firsts[1:] == firsts[:-1]).all(axis=1)
        del table, firsts
        _order_runs(order, longer, alike, keys, ends)
    return order


def _order_runs(order: Any, longer: Any, alike: Any, keys: bytearray, ends: Any) -> None:
    """Each run of ``order``'s places at ``longer`` (sorted places of keys longer than the
    table) that the table found alike, in the order of the keys' whole bytes (stable)."""
    positions = longer.tolist()
    run_start = 0
    for index, same in enumerate([*alike.tolist(), False]):
        if same:
            continue
        if index > run_start:
            run = positions[run_start : index + 1]
            places = order[run].tolist()
            order[run] = sorted(
                places, key=lambda i: keys[(int(ends[i - 1]) if i else 0) : int(ends[i])]
            )
        run_start = index + 1


def _fill(table: Any, keys: bytearray, ends: Any, width: int) -> None:
    """Each key's first ``width`` bytes into its row of ``table`` (zeros after them), a few
    thousand rows at a time (each step's index arrays a few thousand long)."""
    source = np.frombuffer(keys, dtype=np.uint8)
    for first in range(0, len(ends), _TABLE_ROWS_AT_ONCE):
        rows_ends = ends[first : first + _TABLE_ROWS_AT_ONCE]
        rows_starts = np.empty_like(rows_ends)
        rows_starts[0] = ends[first - 1] if first else 0
        rows_starts[1:] = rows_ends[:-1]
        lengths = rows_ends - rows_starts
        rows = table[first : first + len(rows_ends)]
        for column in range(min(width, int(lengths.max()))):
            longer = lengths > column
            rows[longer, column] = source[rows_starts[longer] + column]


def _past_the_table(
    order: Any, firsts: Any, lengths: Any, width: int, keys: bytearray, starts: Any, ends: Any
) -> Any:
    """``order`` with each run of keys longer than the table whose first ``width`` bytes
    are the same sorted by their whole bytes (by Python: such keys are at least ``width``
    bytes each, so there are few of them)."""
    sorted_firsts, long = firsts[order], lengths[order] > width
    tied = np.flatnonzero((sorted_firsts[1:] == sorted_firsts[:-1]) & long[1:] & long[:-1])
    result = order
    if not len(tied):
        return result
    run_start = previous = -2
    runs: list[tuple[int, int]] = []
    for place in tied.tolist():  # place and place + 1 are tied
        if place != previous + 1:
            if run_start >= 0:
                runs.append((run_start, previous + 2))
            run_start = place
        previous = place
    runs.append((run_start, previous + 2))
    for first, past in runs:
        result[first:past] = sorted(
            result[first:past], key=lambda i: keys[int(starts[i]) : int(ends[i])]
        )
    return result
