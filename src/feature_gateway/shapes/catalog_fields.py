"""Schema fields of the catalog (SPEC §8): tags, tag filters, several values per filter.

Each states its rule in the API document as far as OpenAPI 3.0 can: a tag key's pattern
cannot be stated (3.0 has no ``propertyNames``), so it is in the description.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from marshmallow import ValidationError, fields, validate

from feature_gateway.domain.tags import (
    MAX_TAG_VALUE_LENGTH,
    MAX_TAGS,
    TAG_FILTER_PORTABLE_PATTERN,
    TAG_KEY_RULE,
    TagFilter,
    TagFilterSyntaxError,
    parse_tag_filter,
    tag_filter_problems,
    tag_problems,
    too_many_tags,
)
from feature_gateway.domain.text import (
    NON_BLANK_TEXT_PATTERN,
    NUL_FREE_TEXT_PATTERN,
    has_nul,
    is_blank,
)
from feature_gateway.shapes.outlines import ObjectOutline

_TAG_VALUE_SCHEMA = {
    "type": "string",
    "maxLength": MAX_TAG_VALUE_LENGTH,
    "pattern": NUL_FREE_TEXT_PATTERN,
}
_TAGS_DESCRIPTION = (
    f"Labels {{key: value}}: at most {MAX_TAGS}; {TAG_KEY_RULE} "
    f"(^[a-z][a-z0-9_.-]{{0,62}}$); values are strings of 0 to {MAX_TAG_VALUE_LENGTH} "
    "characters without NUL"
)


def _raise_problems(problems: Mapping[str, str]) -> None:
    if problems:
        raise ValidationError(list(problems.values()))


class Tags(fields.Dict):
    """A feature's tags in a request: the whole object, checked against the tag rules."""

    # An array, or an object of more keys, is refused whatever it holds (api.body_outline).
    most_keys = MAX_TAGS

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "description": _TAGS_DESCRIPTION,
            "maxProperties": MAX_TAGS,
            "additionalProperties": _TAG_VALUE_SCHEMA,
            "example": {"team": "pricing", "pii": "none"},
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, str]:
        if isinstance(value, ObjectOutline):  # of more than most_keys keys, outlined
            _raise_problems(too_many_tags(value.keys))
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        _raise_problems(tag_problems(value))
        return dict(value)


class TagFilterBody(fields.Field[TagFilter]):
    """POST list filter ``"tags": {"k": "v", "k2": null}``: every pair must match; a null
    value asks only for the key."""

    default_error_messages = {"invalid": "Not a valid mapping type."}

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "description": "Only features carrying every one of these tags; a null value "
            f"matches any value of the key. {TAG_KEY_RULE}",
            "type": "object",
            "maxProperties": MAX_TAGS,
            "additionalProperties": {**_TAG_VALUE_SCHEMA, "nullable": True},
            "example": {"team": "pricing", "pii": None},
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> TagFilter:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        problems = tag_filter_problems(list(value.items()))
        if problems:
            raise ValidationError(problems)
        return tuple(value.items())


def _text(field: fields.Field[Any], value: Any) -> str:
    if not isinstance(value, str):
        raise field.make_error("invalid")
    return value


class TagFilterQuery(fields.Field[TagFilter]):
    """GET list filter ``tag=k:v,k2``: pairs split at ``,``, key and value at the first ``:``."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "description": "Only features carrying every one of these tags: `key:value` "
            "pairs separated by `,` (key and value split at the first `:`); a pair "
            f"without `:` matches any value of the key. {TAG_KEY_RULE}",
            "type": "string",
            "pattern": TAG_FILTER_PORTABLE_PATTERN,
            "example": "team:pricing,pii",
        }
        super().__init__(metadata=metadata, **kwargs)

    default_error_messages = {"invalid": "Not a valid string."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> TagFilter:
        text = _text(self, value)
        try:
            return parse_tag_filter(text)
        except TagFilterSyntaxError as exc:
            raise ValidationError(str(exc)) from None


class OneOrMany(fields.Field[tuple[Any, ...]]):
    """A body filter given as one value or a non-empty list of them (any of them matches)."""

    def __init__(self, inner: fields.Field[Any], **kwargs: Any) -> None:
        self.inner = inner
        one = _documented(inner)
        metadata = {
            "oneOf": [
                one,
                {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_FILTER_VALUES},
            ],
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> tuple[Any, ...]:
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > MAX_FILTER_VALUES:
            raise ValidationError(f"Give one value or a list of 1 to {MAX_FILTER_VALUES} values.")
        return _each(self.inner, values)


class CommaSeparated(fields.Field[tuple[Any, ...]]):
    """A query filter given as one value or several separated by ``,`` (any matches)."""

    def __init__(self, inner: fields.Field[Any], pattern: str, **kwargs: Any) -> None:
        self.inner = inner
        metadata = {"type": "string", "pattern": pattern, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    default_error_messages = {"invalid": "Not a valid string."}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> tuple[Any, ...]:
        values = _text(self, value).split(",")
        if len(values) > MAX_FILTER_VALUES:
            raise ValidationError(f"Give at most {MAX_FILTER_VALUES} values separated by ','.")
        return _each(self.inner, values)


MAX_FILTER_VALUES = 100


def _list_pattern(one: str) -> str:
    return f"^({one})(,({one})){{0,{MAX_FILTER_VALUES - 1}}}$"


def choices_pattern(values: Iterable[str]) -> str:
    """The pattern of a comma-separated list of ``values``."""
    return _list_pattern("|".join(re.escape(v) for v in values))


# A comma-separated list of names: each not blank, without NUL (or ',', the separator).
NAMES_PATTERN = _list_pattern(NON_BLANK_TEXT_PATTERN[1:-1].replace("[^\\u0000", "[^,\\u0000"))


def _named(value: str) -> None:
    if is_blank(value) or has_nul(value):
        raise ValidationError("Each name must be non-blank text without NUL.")


# One name of a comma-separated filter: longer names than any stored simply match nothing.
FILTER_NAME = fields.String(validate=_named)


def _each(inner: fields.Field[Any], values: Sequence[Any]) -> tuple[Any, ...]:
    loaded = []
    for value in values:
        loaded.append(inner.deserialize(value))
    return tuple(dict.fromkeys(loaded))


def _documented(inner: fields.Field[Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for validator in inner.validators:
        if isinstance(validator, validate.OneOf):
            schema["enum"] = list(validator.choices)
        if isinstance(validator, validate.Length) and validator.max is not None:
            schema["maxLength"] = validator.max
    for key in ("pattern", "maxLength", "description"):
        if key in inner.metadata:
            schema[key] = inner.metadata[key]
    return schema


MAX_EPOCH_MS = 2**63 - 1  # the largest BIGINT: a bound past it would fail in the database


def time_bound(integer: type[fields.Integer], description: str) -> fields.Integer:
    """A time filter (created/updated after/before), epoch milliseconds."""
    return integer(
        validate=validate.Range(min=0, max=MAX_EPOCH_MS),
        metadata={"description": f"{description} (epoch milliseconds)"},
    )
