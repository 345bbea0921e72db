"""The field types every request schema is built from, and the strict schema base.

Every constraint a field enforces is also stated in its OpenAPI schema (pattern, length,
range, enum), so that a request the document calls valid is one the service accepts; the
only rule JSON Schema cannot state, that a query is one read-only SQL statement, is named by
the ``sql-select`` format instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from feature_gateway.domain.names import (
    FEATURE_NAME_PORTABLE_PATTERN,
    INVALID_FEATURE_NAME,
    MAX_FEATURE_NAME_LENGTH,
    parse_feature_name,
)
from feature_gateway.domain.sql_check import UnsafeQueryError, check_read_only_query
from feature_gateway.domain.text import (
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    NON_BLANK_TEXT_PATTERN,
    has_nul,
    is_blank,
    name_problem,
)
from feature_gateway.errors import MAX_ERROR_MESSAGES

MAX_ACTOR_LENGTH = MAX_NAME_LENGTH
MAX_DESCRIPTION_LENGTH = 10_000
MAX_QUERY_LENGTH = 100_000
MAX_NOTE_LENGTH = 10_000
SQL_SELECT_FORMAT = "sql-select"


class StrictSchema(Schema):
    """Unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _few_unknown_fields(self, data: Any, **kwargs: Any) -> Any:
        """Past MAX_ERROR_MESSAGES unknown fields, one message for them all: marshmallow's
        one per field grows a worker's memory with the body (docs/performance.md)."""
        if isinstance(data, Mapping) and len(data) > MAX_ERROR_MESSAGES:
            known = {field.data_key or name for name, field in self.load_fields.items()}
            unknown = [key for key in data if key not in known]
            # An outlined body's keys past the first thousand are counted, not kept.
            count = len(unknown) + getattr(data, "more_keys", 0)
            if count > MAX_ERROR_MESSAGES:
                named = ", ".join(repr(key) for key in unknown[:3])
                raise ValidationError(
                    f"{count:,} fields are not part of this request ({named}, ...)."
                )
        return data

    def handle_error(
        self, error: ValidationError, data: Any, *, many: bool, **kwargs: Any
    ) -> None:
        """A refused load raises an equal error made here, not marshmallow's own.

        marshmallow 4.4's ``Schema._do_load`` keeps the error it raises in a local of its
        frame (``exc``), and the error's traceback holds that frame: a reference cycle, so
        the frames of the load and everything they hold (the loaded data, webargs' request
        with its body) outlived every refused request until the garbage collector's next
        pass over the generation they had reached. A worker's RSS drifted up by each
        refused 2 MB body (docs/performance.md, "i29-drift"). Raised from this documented
        hook, the error is held by no frame its traceback passes through, so all of it is
        freed as soon as it has been answered.
        """
        raise ValidationError(
            error.args[0],
            field_name=error.field_name,
            data=error.data,
            valid_data=error.valid_data,
            **error.kwargs,
        )


def no_nul(value: str) -> None:
    if has_nul(value):
        raise ValidationError("Must not contain the NUL character (U+0000).")


def _not_blank(value: str) -> None:
    if is_blank(value):
        raise ValidationError("Must not be blank.")


def _valid_feature_name(value: str) -> None:
    # (``is_valid_feature_name``'s own question, asked directly: a call fewer for each name
    # of a values request)
    if parse_feature_name(value) is None:
        raise ValidationError(INVALID_FEATURE_NAME)


def _read_only_query(value: str) -> None:
    try:
        check_read_only_query(value)
    except UnsafeQueryError as exc:
        raise ValidationError(str(exc)) from None


_NAME_DESCRIPTION = "`<view>:<feature>:<version>`"
_NAME_EXAMPLE = "driver_hourly_stats:conv_rate:1"
_NAME_RULES = {"pattern": FEATURE_NAME_PORTABLE_PATTERN, "maxLength": MAX_FEATURE_NAME_LENGTH}


def FeatureName(**kwargs: Any) -> fields.String:
    metadata = {
        "description": _NAME_DESCRIPTION,
        "example": _NAME_EXAMPLE,
        **kwargs.pop("metadata", {}),
        **_NAME_RULES,
    }
    return fields.String(validate=_valid_feature_name, metadata=metadata, **kwargs)


# The name as a path segment (GET endpoints); checked by api.context.checked_feature_name.
FEATURE_NAME_PATH_PARAMETER: dict[str, Any] = {
    "in": "path",
    "name": "feature_name",
    "required": True,
    "description": _NAME_DESCRIPTION,
    "example": _NAME_EXAMPLE,
    "schema": {"type": "string", **_NAME_RULES},
}


def Text(max_length: int, **kwargs: Any) -> fields.String:
    """Free text: not blank, no NUL, at most ``max_length`` characters."""
    metadata = {"pattern": NON_BLANK_TEXT_PATTERN, **kwargs.pop("metadata", {})}
    return fields.String(
        validate=[no_nul, _not_blank, validate.Length(max=max_length)],
        metadata=metadata,
        **kwargs,
    )


def _name(value: str) -> None:
    problem = name_problem(value)
    if problem is not None:
        raise ValidationError(problem)


_ACTOR_METADATA = {"description": "Who performs the action", "example": "dev"}


def Actor(**kwargs: Any) -> fields.String:
    """A person's name as given to be stored or compared (actors, principals, owners): the
    name rule of SPEC §2 (no white space at either end, no control or format characters)."""
    metadata = {**_ACTOR_METADATA, **kwargs.pop("metadata", {}), "pattern": NAME_PATTERN}
    return fields.String(
        validate=[_name, validate.Length(max=MAX_ACTOR_LENGTH)], metadata=metadata, **kwargs
    )


def RecordedActor(**kwargs: Any) -> fields.String:
    """A person's name as stored before the name rule (import files, list filters): any
    non-blank text, so that names recorded earlier can still be imported and found."""
    metadata = {**_ACTOR_METADATA, **kwargs.pop("metadata", {})}
    return Text(MAX_ACTOR_LENGTH, metadata=metadata, **kwargs)


def Choice(values: Iterable[str], **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf([str(v) for v in values]), **kwargs)


def Query(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=[no_nul, _not_blank, validate.Length(max=MAX_QUERY_LENGTH), _read_only_query],
        metadata={
            "description": "One read-only SQL statement (SELECT or WITH ... SELECT); "
            "it is stored, never executed",
            "format": SQL_SELECT_FORMAT,
            "pattern": NON_BLANK_TEXT_PATTERN,
            "example": "SELECT conv_rate FROM driver_hourly_stats WHERE driver_id = ?",
        },
        **kwargs,
    )


class JsonInteger(fields.Integer):
    """A JSON integer, never coerced: 10.5, 1e2, "10" and true are errors, not 10 or 1."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


_DECIMAL_INTEGER = re.compile(r"-?[0-9]+")


class QueryInteger(fields.Integer):
    """An integer in a query string: ASCII digits only (int() takes "1_0" and Arabic digits)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not _DECIMAL_INTEGER.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class JsonBoolean(fields.Boolean):
    """A JSON boolean: true or false, not 1 or "yes"."""

    refuses_containers = True  # one message for any array or object (api.body_outline)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


class QueryBoolean(fields.Boolean):
    """A boolean in a query string, spelled as OpenAPI serialises it: true or false."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if value in ("true", "false"):
            return bool(value == "true")
        raise self.make_error("invalid", input=value)


def Credential(**kwargs: Any) -> fields.String:
    """How an audit entry's actor was verified (SPEC §12), as the history, the change log and
    the events show it."""
    return fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": '"token:<token_id>" for an API token, "oidc:<issuer>" for the '
            "company's OpenID Connect provider (console or JWT); null when the name was "
            "claimed (trust mode, imports, entries made before single sign-on)",
            "example": "token:0123456789abcdef",
        },
        **kwargs,
    )
