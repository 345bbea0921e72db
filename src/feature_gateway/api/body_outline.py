"""The outline of a large JSON body, read without building it (docs/performance.md, "i27-bodies").

A body near the size limit holds up to a million values. orjson builds them all before a
schema sees any (yyjson's document, then the Python objects: 33 MB for a million zeros),
which took a worker from under 100 MB to 110-140 MB just to answer that the request is
too large. A request schema that can tell its answer from a body's shape says so with
``answered_by_outline(outline)``; for such a schema the parser first reads a large body
with a streaming parser (yajl, through ijson's C backend, in 4 kB pieces) that keeps only
this outline, and hands the outline to the schema in place of the document when the
schema says its answer follows from it:

- a top-level object: a dict of its keys, in order, each value outlined; past
  ``MAX_OUTLINED_KEYS`` keys only those in ``keep`` (a schema's fields), the others
  counted: a ``WideOutline``, whose ``more_keys`` says how many distinct keys it left out;
- an array: ``ArrayOutline`` (how many items it has);
- an object inside the top-level one: ``ObjectOutline`` (how many keys, the longest array
  among its values);
- a scalar at the top or in the top-level object: itself; anything deeper: counted only.

An outline is given only for a body orjson would parse, to the same keys and counts.
What yajl takes and orjson refuses is looked for here (``unlike_orjson``; numbers beyond
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
from collections.abc import Collection
from decimal import Decimal
from typing import Any

import numpy as np
from marshmallow import fields as ma_fields

from feature_gateway.shapes.outlines import ArrayOutline, ObjectOutline

# orjson refuses a document nested deeper than this (its documentation: "1024 levels";
# tests/unit/test_body_outline.py checks it against the installed orjson).
ORJSON_MAX_DEPTH = 1024
# A body is outlined only past this many commas (a cheap lower bound of its values):
# below it, what orjson builds is a few MB at most, and the bench's largest valid requests
# (100 x 10,000 and 1,000 x 1,000) stay on orjson alone.
OUTLINED_FROM_COMMAS = 16_384
OUTLINED_FROM_BYTES = 2 * OUTLINED_FROM_COMMAS  # "0," is a value
# Arrays, or objects with their first key, opened one in another past orjson's depth;
# atomic, so the match keeps no state to go back to (0.6 MB for 1,025 objects otherwise).
_OPENS_PAST_ORJSONS_DEPTH = re.compile(
    rb'(?>[ \t\n\r]*+(?:\[|\{[ \t\n\r]*+"(?:[^"\\]++|\\.)*+"[ \t\n\r]*+:)){%d}'
    % (ORJSON_MAX_DEPTH + 1)
)
# A top-level object's keys past this many are counted, not kept (but those asked for).
MAX_OUTLINED_KEYS = 1_024
# ijson's C backend hands over the events of one piece at a time, in a list: 4 kB of
# "0," are 2,000 events (0.1 MB), 64 kB were 32,000 (2 MB).
PIECE_BYTES = 4 * 1024
# Fields whose answer to any array or object is one message, whatever it holds.
_CONTAINERS_REFUSED = (ma_fields.String, ma_fields.Integer)
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


class WideOutline(dict[str, Any]):
    """A top-level object of more than ``MAX_OUTLINED_KEYS`` keys: its first ones and those
    asked for, outlined; ``more_keys`` distinct others left out."""

    more_keys = 0


def outline(
    body: bytes, from_commas: int = OUTLINED_FROM_COMMAS, keep: Collection[str] = ()
) -> Any:
    """The outline of ``body``, or None: not outlined (fewer than ``from_commas`` commas,
    or a body yajl and orjson may read differently, or one orjson refuses). A top-level
    key past the first ``MAX_OUTLINED_KEYS`` is kept only if it is in ``keep``."""
    return _outline_read(body, from_commas, keep)[0]


def _outline_read(body: bytes, from_commas: int, keep: Collection[str]) -> tuple[Any, Any]:
    """The outline of ``body`` (as ``outline``), and the members given again later in their
    object (``_Outliner.overridden``; None without any)."""
    if body.count(b",") < from_commas:
        return None, None
    if unlike_orjson(body):
        return None, None
    # Imported here, for large bodies only (the module's docstring).
    from ijson import JSONError
    from ijson.backends import yajl2_c

    events = yajl2_c.basic_parse(io.BytesIO(body), buf_size=PIECE_BYTES)
    outliner = _Outliner(keep)
    try:
        found = outliner.read(events)
        if found is None or not outliner.repeated:
            return found, None
        events = yajl2_c.basic_parse(io.BytesIO(body), buf_size=PIECE_BYTES)
        outliner = _Outliner(keep, exact=True)
        return outliner.read(events), outliner.overridden()
    except (JSONError, ValueError):  # malformed, or a string that is not UTF-8
        return None, None


def outline_for(schema: Any, body: bytes) -> Any:
    """The outline of ``body`` to load through ``schema`` in place of the body, or None
    (parse it). A schema that can tell its answer from an outline says so itself
    (``answered_by_outline``); a schema of one feature's request (``outline_answers``)
    is given the outline when what it leaves out cannot change the answer:

    - a body that is not an object (refused as such, whatever it holds);
    - a ``WideOutline``: over a thousand fields not the schema's, answered by one message
      before any field is read (``StrictSchema._few_unknown_fields``);
    - an object whose every array or object (outlined) is the value of a field not the
      schema's ("Unknown field."), of one refusing any array or object (a string or an
      integer: "Not a valid string."; ``refuses_containers``), or of one refusing an array
      and an object of more than ``most_keys`` keys by their count alone (``Tags``).

    What runs before the fields reads no more than an outline keeps (the actor fields
    bound with a token, the top-level keys: ``tests/unit/test_body_outline.py`` lists the
    hooks). A body of fewer values than ``OUTLINED_FROM_COMMAS`` is never outlined.
    """
    own = getattr(schema, "answered_by_outline", None)
    if own is None and not getattr(schema, "outline_answers", False):
        return None
    keep = [field.data_key or name for name, field in schema.fields.items()]
    found, overridden = _outline_read(body, OUTLINED_FROM_COMMAS, keep)
    if found is None:
        return None
    answered = own(found) if own is not None else _answered_alike(schema, found)
    if overridden is None:
        return found if answered else None
    # A key given twice in an object: the outline holds what orjson keeps, the last value,
    # the keys told apart by their hashes. Read again, the keys are compared (None for a
    # collision), and the document is built without the values replaced later.
    from feature_gateway.api.repeated_keys import document_without

    document = document_without(body, overridden, build=not answered)
    if document is None:
        return None
    return found if answered else document


def _answered_alike(schema: Any, found: Any) -> bool:
    if not isinstance(found, dict) or type(found) is WideOutline:
        return True
    fields = {field.data_key or name: field for name, field in schema.load_fields.items()}
    for key, value in found.items():
        if type(value) is ArrayOutline or type(value) is ObjectOutline:
            field = fields.get(key)
            if field is not None and not _refused_whatever_it_holds(field, value):
                return False
    return True


def _refused_whatever_it_holds(field: Any, value: ArrayOutline | ObjectOutline) -> bool:
    if type(field) in _CONTAINERS_REFUSED or getattr(field, "refuses_containers", False):
        return True
    most_keys = getattr(field, "most_keys", None)
    if most_keys is None:
        return False
    return isinstance(value, ArrayOutline) or value.keys > most_keys


def opens_past_orjsons_depth(body: bytes) -> bool:
    """Whether ``body`` opens more than ``ORJSON_MAX_DEPTH`` arrays or objects (each with
    its first key) before anything else: orjson refuses it (too deep, or malformed before),
    but only after copying it whole (yyjson reads a copy of its input)."""
    return _OPENS_PAST_ORJSONS_DEPTH.match(body) is not None


def unlike_orjson(body: bytes) -> bool:
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


def as_orjson_reads(value: Any) -> Any:
    """A scalar as orjson reads it: a number with a fraction or exponent (ijson's Decimal)
    or an integer beyond 64 bits is a float."""
    if type(value) is Decimal or (type(value) is int and not _I64_MIN <= value <= _U64_MAX):
        return float(value)
    return value


def beyond_a_double(number: int | Decimal) -> bool:
    """Whether orjson refuses ``number`` (ijson's int or Decimal) as beyond a double."""
    return not (-_HUGE < number < _HUGE if type(number) is int else math.isfinite(number))


def _overridden_places(hashes: array[int]) -> Any:
    """The places in ``hashes`` (an object's keys') of each key given again later: numpy's
    array, ascending."""
    found = np.frombuffer(hashes, dtype=np.int64)
    order = np.argsort(found, kind="stable")
    ordered = found[order]
    return np.sort(order[:-1][ordered[:-1] == ordered[1:]])


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

    def __init__(self, keep: Collection[str] = (), exact: bool = False) -> None:
        self.keep = keep
        # A key given twice in the top-level object or one in it: ``repeated`` says so, and
        # the body is read again ``exact``, telling which members are given again later.
        self.exact = exact
        self.repeated = False
        self.top_keys = array("q")  # the hashes of the top-level object's keys
        self.left_out = 0  # its keys not kept (``key`` is None while one's value is read)
        self.counts = [0, 0, 0, 0]
        self.arrays = [False, False, False, False]
        self.top: Any = None
        self.key: str | None = ""  # the top-level object's key being read
        self.inner_keys = array("q")  # the hashes of the keys of the object at depth 2
        self.longest = 0  # its longest array value
        # Read exact, each member of an object at depth 1 or 2 is numbered in the order met:
        # its number (``top_members``, ``inner_members``), the inner one's array length, and
        # those given again later in their object (``_overridden``, a numpy array an object).
        self.members = 0
        self.top_members = array("q")
        self.inner_members = array("q")
        self.inner_lengths = array("q")
        self._overridden: list[Any] = []

    def read(self, events: Any) -> Any:
        depth = 0
        counts, scalar_events = self.counts, _SCALAR_EVENTS
        for event, value in events:
            if event in scalar_events:  # most events, first
                if event == "number" and beyond_a_double(value):
                    return None
                if depth > 3:
                    continue
                counts[depth] += 1
                if depth == 0:
                    self.top = as_orjson_reads(value)
                elif depth == 1 and type(self.top) is dict and self.key is not None:
                    self.top[self.key] = as_orjson_reads(value)
            elif event == "map_key":
                if depth == 1:
                    self._top_key(value)
                elif depth == 2:
                    self.inner_keys.append(hash(value))
                    if self.exact:
                        self._inner_member()
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
        if self.left_out:
            if _repeats(self.top_keys):  # a key left out may be given twice: not counted
                return None
            wide = WideOutline(self.top)
            wide.more_keys = self.left_out
            return wide
        return self.top

    def _top_key(self, key: str) -> None:
        """The top-level object's next key: kept (its value outlined) or counted."""
        self.top_keys.append(hash(key))
        if self.exact:
            self.top_members.append(self.members)
            self.members += 1
        if key in self.top:
            self.key, self.repeated = key, True
        elif len(self.top) < MAX_OUTLINED_KEYS or key in self.keep:
            self.key = key
        else:
            self.key = None
            self.left_out += 1

    def _inner_member(self) -> None:
        self.inner_members.append(self.members)
        self.inner_lengths.append(0)
        self.members += 1

    def _opened(self, depth: int, is_array: bool) -> None:
        self.counts[depth] = 0
        self.arrays[depth] = is_array
        if depth == 1 and not is_array:
            self.top = {}
        elif depth == 2:
            self.inner_keys = array("q")
            self.inner_members = array("q")
            self.inner_lengths = array("q")
            self.longest = 0

    def _closed(self, depth: int) -> bool:
        """Record the container at ``depth`` that has just closed."""
        items, is_array = self.counts[depth], self.arrays[depth]
        if depth == 1:
            if is_array:
                self.top = ArrayOutline(items)
        elif depth == 3:
            if is_array and not self.arrays[2]:
                self.longest = max(self.longest, items)
                if self.exact:
                    self.inner_lengths[-1] = items
        elif type(self.top) is dict and self.key is not None:  # depth 2, in the top object
            if is_array:
                self.top[self.key] = ArrayOutline(items)
            elif self.exact:
                self.top[self.key] = self._inner_object(items)
            else:
                self.repeated = self.repeated or _repeats(self.inner_keys)
                self.top[self.key] = ObjectOutline(items, self.longest)
        return True

    def _inner_object(self, items: int) -> ObjectOutline:
        """The object at depth 2 just closed, as orjson keeps it: a key given twice once,
        with its last value (two keys of one hash are told apart by ``outline_for``). The
        places come from a sorted copy of the hashes (``_repeats`` sorts them in place)."""
        replaced = _overridden_places(self.inner_keys) if items > 1 else ()
        if not len(replaced):
            return ObjectOutline(items, self.longest)
        self._overridden.append(np.frombuffer(self.inner_members, dtype=np.int64)[replaced])
        lengths = np.frombuffer(self.inner_lengths, dtype=np.int64).copy()
        lengths[replaced] = 0
        return ObjectOutline(items - len(replaced), int(lengths.max()))

    def overridden(self) -> Any:
        """The numbers of the members given again later in their object (orjson keeps the
        last value), ascending, or None."""
        # (A wide outline's top keys were sorted by ``_repeats``, none given twice.)
        if len(self.top_keys) > 1 and not self.left_out:
            replaced = _overridden_places(self.top_keys)
            if len(replaced):
                self._overridden.append(np.frombuffer(self.top_members, dtype=np.int64)[replaced])
        if not self._overridden:
            return None
        return np.sort(np.concatenate(self._overridden))
