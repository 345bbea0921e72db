"""A large body with a key given twice in an object, built as orjson builds it without
the values it replaces (docs/performance.md, "i29-bodies").

orjson keeps a key given twice once, at its first place, with its last value.
``POST /features`` with ``{"entities": {"id": [<a million zeros>], "id": [1]}}`` is a
request of one entity row, yet orjson built the million zeros first (+26 MB). The outline
(``api.body_outline``) numbers each member of the top-level object and of the objects in
it, in the order met, and tells which are given again later in their object by their
keys' hashes; ``document_without`` reads the body again and builds orjson's document
without the values of those members (their keys keep their places), comparing the keys
themselves: a member said to be given again whose key does not come again in its object
(two keys of one hash) gives None, and the body is parsed by orjson as before.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from feature_gateway.api.body_outline import PIECE_BYTES, as_orjson_reads

_OPENING = frozenset({"start_map", "start_array"})
_CLOSING = frozenset({"end_map", "end_array"})


def document_without(body: bytes, overridden: Any, *, build: bool = True) -> Any:
    """orjson's document of ``body`` (an object yajl reads: outlined) built without the
    values of the members numbered in ``overridden`` (ascending), or None if one of them is
    not given again; with ``build=False`` only the keys are compared (an empty dict)."""
    from ijson.backends import yajl2_c

    events = yajl2_c.basic_parse(io.BytesIO(body), buf_size=PIECE_BYTES)
    numbers = _ascending(overridden)
    next_left_out = next(numbers, -1)
    member = depth = leaving_out = 0  # leaving_out: the open containers of a value left out
    leave_next = False  # the next value is one left out
    open_: list[Any] = [{}]  # the containers being built, under a holder of the top one
    keys: list[Any] = [None]  # the key each open object's next value goes to
    awaiting: list[set[str]] = [set()]  # each one's keys left out, not yet given again
    for event, value in events:
        if event == "map_key":
            if depth <= 2:
                left_out, member = member == next_left_out, member + 1
                if left_out:
                    next_left_out = next(numbers, -1)
                if leaving_out:
                    continue
                awaiting[-1].discard(value)
                if left_out:
                    awaiting[-1].add(value)
                    leave_next = True
                    if build:
                        open_[-1].setdefault(value, None)  # its place, as orjson's dict
                    continue
            if not leaving_out:
                keys[-1] = value
        elif event in _OPENING:
            depth += 1
            if leaving_out or leave_next:
                leaving_out, leave_next = leaving_out + 1, False
                continue
            container: Any = {} if event == "start_map" else []
            _add(open_[-1], keys[-1], container, build)
            open_.append(container)
            keys.append(None)
            awaiting.append(set())
        elif event in _CLOSING:
            depth -= 1
            if leaving_out:
                leaving_out -= 1
                continue
            open_.pop()
            keys.pop()
            if awaiting.pop():
                return None  # a key said to be given again was not: two keys of one hash
        elif leave_next:
            leave_next = False
        elif not leaving_out:
            _add(open_[-1], keys[-1], as_orjson_reads(value), build)
    return open_[0].get(None, {})


def _add(container: Any, key: Any, value: Any, build: bool) -> None:
    if not build:
        return
    if type(container) is list:
        container.append(value)
    else:
        container[key] = value


def _ascending(numbers: Any) -> Iterator[int]:
    """numpy's array of numbers, read a thousand at a time."""
    for first in range(0, len(numbers), 1_024):
        yield from numbers[first : first + 1_024].tolist()
