"""What a large JSON body's outline holds in place of an array or an object
(``api.body_outline``): declared here, where the request fields that answer an outline
(``catalog_fields.Tags``) can see them."""

from __future__ import annotations

from dataclasses import dataclass


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
