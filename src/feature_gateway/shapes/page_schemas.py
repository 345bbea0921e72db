"""Paging: the ``limit`` and ``offset`` a list request gives, and what a page answers."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from feature_gateway.domain.listing import DEFAULT_PAGE_SIZE, MAX_OFFSET, MAX_PAGE_SIZE
from feature_gateway.shapes.schema_fields import JsonInteger, QueryInteger, StrictSchema


def page_limit(integer: type[fields.Integer], default: int = DEFAULT_PAGE_SIZE) -> fields.Integer:
    return integer(
        load_default=default,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": "Page size"},
    )


def _offset(integer: type[fields.Integer]) -> fields.Integer:
    return integer(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_OFFSET),
        metadata={"description": "Number of matches to skip"},
    )


class PageBodyFields(StrictSchema):
    limit = page_limit(JsonInteger)
    offset = _offset(JsonInteger)


class PageQueryFields(StrictSchema):
    limit = page_limit(QueryInteger)
    offset = _offset(QueryInteger)


class PageFields(Schema):
    """What every page answers beside its items."""

    total_count = fields.Integer(required=True, metadata={"description": "All matches"})
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
