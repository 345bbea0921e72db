"""JSON → the generated dataclasses, driven by their type hints.

Members the model does not know are ignored (a newer service may add fields); a member the
model requires and the answer lacks is an error (a service older than the client).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")
JSON_NAME = "json"  # field metadata: the member's name when it is not a Python name ("from")


def decode(kind: type[T], data: Any) -> T:
    """``data`` (parsed JSON) as an instance of the dataclass ``kind``."""
    return typing.cast(T, _value(kind, data))


@functools.cache
def _fields(kind: type) -> tuple[tuple[str, str, Any], ...]:
    """(attribute, JSON member, type hint) of each field of a dataclass."""
    hints = typing.get_type_hints(kind)
    return tuple(
        (f.name, f.metadata.get(JSON_NAME, f.name), hints[f.name])
        for f in dataclasses.fields(kind)
    )


def _value(hint: Any, data: Any) -> Any:
    if data is None:
        return None
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(data, dict):
            raise TypeError(f"{hint.__name__}: expected an object, got {data!r}")
        return hint(
            **{name: _value(h, data[key]) for name, key, h in _fields(hint) if key in data}
        )
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is list and isinstance(data, list):
        return [_value(args[0], item) for item in data]
    if origin is dict and isinstance(data, dict):
        return {key: _value(args[1], item) for key, item in data.items()}
    if origin in (typing.Union, types.UnionType):
        return _union(args, data)
    return data  # str, int, float, bool, Literal[...], Any: JSON gives them as they are


def _union(options: tuple[Any, ...], data: Any) -> Any:
    for option in options:
        if dataclasses.is_dataclass(option) and isinstance(data, dict):
            return _value(option, data)
        if typing.get_origin(option) in (list, dict) and isinstance(
            data, typing.get_origin(option)
        ):
            return _value(option, data)
    return data
