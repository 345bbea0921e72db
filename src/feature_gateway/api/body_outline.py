"""The outline of a large JSON body, read without building it (docs/performance.md, "i27-bodies").

A body near the size limit holds up to a million values. orjson builds them all before a
schema sees any (yyjson's document, then the Python objects: 33 MB for a million zeros),
which took a worker from under 100 MB to 110-140 MB just to answer that the request is
too large. A request schema that can tell its answer from a body's shape says so with
``answered_by_outline(outline)``; for such a schema the parser first reads a large body
with a streaming parser (yajl, through ijson's C backend, in 4 kB pieces) that keeps only
this outline, and hands the outline to the schema in place of the document when the
schema says its answer follows from it:

- a top-level object: a dict of its keys, in order, each value outlined;
- an array: ``ArrayOutline`` (how many items it has);
- an object inside the top-level one: ``ObjectOutline`` (how many keys, the longest array
  among its values);
- a scalar at the top or in the top-level object: itself; anything deeper: counted only.

An outline is given only for a body orjson would parse, to the same keys and counts.
What yajl takes and orjson refuses is looked for here (``_unlike_orjson``; numbers beyond
a double, nesting past ``ORJSON_MAX_DEPTH``: ``_Outliner``). yajl hands numbers over as
text, which ijson makes ints and Decimals (a fraction or an exponent), so that no number
orjson reads is refused by yajl. A key given twice in an object inside the top-level one,
and anything yajl refuses, give no outline: the body is then parsed as before, and
answered as before.

ijson is imported at the first large body, so a worker that never gets one does not
carry it (0.2 MB).
"""

from __future__ import annotations

import io
import math
import re
from array import array
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

# orjson refuses a document nested deeper than this (its documentation: "1024 levels";
# tests/unit/test_body_outline.py checks it against the installed orjson).
ORJSON_MAX_DEPTH = 1024
# A body is outlined only past this many commas (a cheap lower bound of its values):
# below it, what orjson builds is a few MB at most, and the bench's largest valid requests
# (100 x 10,000 and 1,000 x 1,000) stay on orjson alone.
OUTLINED_FROM_COMMAS = 16_384
OUTLINED_FROM_BYTES = 2 * OUTLINED_FROM_COMMAS  # "0," is a value
# A top-level object with more keys than this is not outlined (its keys are kept).
MAX_OUTLINED_KEYS = 1_024
# ijson's C backend hands over the events of one piece at a time, in a list: 4 kB of
# "0," are 2,000 events (0.1 MB), 64 kB were 32,000 (2 MB).
_PIECE_BYTES = 4 * 1024
_SCALAR_EVENTS = frozenset({"number", "string", "boolean", "null"})
# orjson reads an integer beyond 64 bits as a float, and refuses one beyond a double;
# those past 2 ** 1023 are left to it.
_I64_MIN, _U64_MAX, _HUGE = -(2**63), 2**64 - 1, 2**1023
# Vertical tab and form feed: whitespace to yajl, refused by orjson (inside a string,
# refused by both).
_NOT_WHITESPACE_TO_ORJSON = (b"\x0b", b"\x0c")
# A \u escape of a UTF-16 surrogate, or text looking like one (``\\ud800`` is a backslash
# and "ud800"): which is which is told by the backslashes before it.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


@dataclass(frozen=True, slots=True)
class ArrayOutline:
    """An array of ``length`` items."""

    length: int


@dataclass(frozen=True, slots=True)
class ObjectOutline:
    """An object of ``keys`` distinct keys whose longest array value has ``longest_array``
    items (0 without an array value)."""

    keys: int
    longest_array: int


def outline(body: bytes, from_commas: int = OUTLINED_FROM_COMMAS) -> Any:
    """The outline of ``body``, or None: not outlined (fewer than ``from_commas`` commas,
    or a body yajl and orjson may read differently, or one orjson refuses)."""
    if body.count(b",") < from_commas:
        return None
    if _unlike_orjson(body):
        return None
    # Imported here, for large bodies only (the module's docstring).
    from ijson import JSONError
    from ijson.backends import yajl2_c

    events = yajl2_c.basic_parse(io.BytesIO(body), buf_size=_PIECE_BYTES)
    try:
        return _Outliner().read(events)
    except (JSONError, ValueError):  # malformed, or a string that is not UTF-8
        return None


def _unlike_orjson(body: bytes) -> bool:
    """Whether ``body`` may hold what yajl reads and orjson refuses: vertical tab or form
    feed, or a surrogate escape that is not the first half of a pair then the second."""
    if any(byte in body for byte in _NOT_WHITESPACE_TO_ORJSON):
        return True
    expected_low = -1  # where the second half of a pair must start
    for match in _SURROGATE_ESCAPE.finditer(body):
        start = before = match.start()
        while before and body[before - 1] == 0x5C:  # the backslashes before it
            before -= 1
        if (start - before) % 2:
            continue  # an escaped backslash, then text
        if expected_low != -1 and start != expected_low:
            return True  # a first half alone
        low = match.group()[3] in b"cdefCDEF"
        if low != (start == expected_low):
            return True  # a second half alone, or a first half after a first half
        expected_low = -1 if low else match.end()
    return expected_low != -1


def _as_orjson_reads(value: Any) -> Any:
    """A scalar as orjson reads it: a number with a fraction or exponent (ijson's Decimal)
    or an integer beyond 64 bits is a float."""
    if type(value) is Decimal or (type(value) is int and not _I64_MIN <= value <= _U64_MAX):
        return float(value)
    return value


def _repeats(hashes: array[int]) -> bool:
    """Whether two of ``hashes`` are equal (sorted in place: no copy of them)."""
    if len(hashes) < 2:
        return False
    found = np.frombuffer(hashes, dtype=np.int64)
    found.sort()
    return bool((found[1:] == found[:-1]).any())


class _Outliner:
    """Reads yajl's events into an outline (see the module's docstring).

    ``depth`` counts the open containers (1: the top-level one); ``counts[d]`` the values
    met so far in the one open at depth ``d`` and ``arrays[d]`` whether it is an array,
    for ``d`` up to 3, the deepest whose items are counted (an array in an object in the
    top-level object).
    """

    def __init__(self) -> None:
        self.counts = [0, 0, 0, 0]
        self.arrays = [False, False, False, False]
        self.top: Any = None
        self.key: str = ""  # the top-level object's key being read
        self.inner_keys = array("q")  # the hashes of the keys of the object at depth 2
        self.longest = 0  # its longest array value

    def read(self, events: Any) -> Any:
        depth = 0
        counts, scalar_events, huge, finite = self.counts, _SCALAR_EVENTS, _HUGE, math.isfinite
        for event, value in events:
            if event in scalar_events:  # most events, first
                if event == "number" and not (
                    -huge < value < huge if type(value) is int else finite(value)
                ):
                    return None  # beyond a double: refused by orjson
                if depth > 3:
                    continue
                counts[depth] += 1
                if depth == 0:
                    self.top = _as_orjson_reads(value)
                elif depth == 1 and type(self.top) is dict:
                    self.top[self.key] = _as_orjson_reads(value)
            elif event == "map_key":
                if depth == 1:
                    if len(self.top) >= MAX_OUTLINED_KEYS:
                        return None
                    self.key = value
                elif depth == 2:
                    self.inner_keys.append(hash(value))
            elif event == "start_array" or event == "start_map":
                if depth <= 3:
                    counts[depth] += 1
                depth += 1
                if depth > ORJSON_MAX_DEPTH:
                    return None
                if depth <= 3:
                    self._opened(depth, event == "start_array")
            else:  # the end of an array or an object
                if depth <= 3 and not self._closed(depth):
                    return None
                depth -= 1
        return self.top

    def _opened(self, depth: int, is_array: bool) -> None:
        self.counts[depth] = 0
        self.arrays[depth] = is_array
        if depth == 1 and not is_array:
            self.top = {}
        elif depth == 2:
            self.inner_keys = array("q")
            self.longest = 0

    def _closed(self, depth: int) -> bool:
        """Record the container at ``depth`` that has just closed; False for an object in
        the top-level object with a key given twice (or two keys of one hash)."""
        items, is_array = self.counts[depth], self.arrays[depth]
        if depth == 1:
            if is_array:
                self.top = ArrayOutline(items)
        elif depth == 3:
            if is_array and not self.arrays[2]:
                self.longest = max(self.longest, items)
        elif type(self.top) is dict:  # depth 2, in the top-level object
            if is_array:
                self.top[self.key] = ArrayOutline(items)
            elif _repeats(self.inner_keys):
                return False
            else:
                self.top[self.key] = ObjectOutline(items, self.longest)
        return True
