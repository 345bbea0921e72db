"""The two tables: features (one row per feature name) and its append-only audit trail.

The features table's columns are the field table's (``domain.feature_fields``), typed by
each field's kind, plus what only storage needs (``id``, ``canonical_name``, the row's
stored JSON).
"""

from __future__ import annotations

import json
import operator
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeEngine

from feature_gateway.db.base import Base
from feature_gateway.domain.feature_fields import FEATURE_FIELDS, FIELD_NAMES, Field, Kind
from feature_gateway.domain.listing import LIST_FILTERS, Filter, FilterKind

ACTOR = String(255)
# The features table's columns holding each row's JSON object and its revision.
STORED_JSON, STORED_JSON_REVISION = "fields_json", "fields_json_revision"
# "token:<token_id>" or "oidc:<issuer>" (an issuer URL is at most 1,000 characters, config).
CREDENTIAL_LENGTH = 1024

COLUMN_TYPES: dict[Kind, TypeEngine[Any]] = {
    Kind.NAME: String(255),
    Kind.CHOICE: String(32),
    Kind.STATUS: String(32),
    Kind.QUERY: Text(),
    Kind.DESCRIPTION: Text(),
    Kind.ACTOR: ACTOR,
    Kind.TEAM: ACTOR,
    Kind.NOTE: Text(),
    Kind.TIME: BigInteger(),  # epoch ms, as the API speaks them: no time-zone conversions
    Kind.REVISION: Integer(),
    Kind.TAGS: JSON(),  # the served copy; db.catalog_models.FeatureTag indexes them
    Kind.REFERENCE: String(255),
    Kind.FORCED: Boolean(),
}


def _server_default(field: Field) -> TextClause | None:
    """The field's default for a new row (the field table's), also as the column's default:
    rows inserted by code predating the column (a rolling upgrade) get it."""
    if field.default is None:
        return None
    if field.kind is not Kind.TAGS:
        raise ValueError(f"{field.name}: only a JSON column's default is written as SQL")
    return text(f"'{json.dumps(field.default())}'")


def filter_index(list_filter: Filter) -> tuple[str, tuple[str, ...]] | None:
    """The table and the leading columns of the index a list filter needs (none: a search
    reads every row, as a substring can be anywhere; the flag only widens the list)."""
    column = list_filter.column
    if list_filter.kind in (FilterKind.ANY_OF, FilterKind.EQUALS):
        # The filter and the default order: a filtered page is one range of the index.
        return "features", (str(column), "feature_name")
    if list_filter.kind in (FilterKind.AT_OR_AFTER, FilterKind.BEFORE):
        return "features", (str(column),)  # the same index serves the sort by the column
    if list_filter.kind is FilterKind.TAGS:
        return "feature_tags", ("key", "value", "feature_id")  # db.catalog_models
    return None


def _column(field: Field) -> Column[Any]:
    return Column(
        field.name,
        COLUMN_TYPES[field.kind],
        nullable=field.nullable,
        unique=field.kind is Kind.NAME,
        server_default=_server_default(field),
    )


FEATURES_TABLE = Table(
    "features",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    *(_column(field) for field in FEATURE_FIELDS),
    # The name with its version spelled one way (domain.names.canonical_feature_name), so
    # that "view:f:1" and "view:f:v1" cannot both exist. Set by FeatureRepository.add;
    # nullable so that code predating it keeps working during a rolling upgrade.
    Column("canonical_name", String(255), unique=True),
    # "<view>:<feature>" and the version's sort key (domain.versions.version_key), also set
    # by FeatureRepository.add: the versions of a feature are one index range.
    Column("family_name", String(255)),
    Column("version_key", String(255)),
    # The row's fields as one JSON object, the bytes orjson writes for them (the list
    # page's item, joined as stored), and the revision it was written at: written with the
    # row by ``db.feature_writes``, read only by ``db.feature_json``; where the revision is
    # not the row's (NULL: a row written by code predating it), the page has the database
    # write the object instead. Never a field: the API, its document and the change log
    # know only the field table's.
    Column(STORED_JSON, Text),
    Column(STORED_JSON_REVISION, Integer),
    *(
        Index(f"ix_features_{'_'.join(columns)}", *columns)
        for table, columns in dict.fromkeys(filter(None, map(filter_index, LIST_FILTERS)))
        if table == "features"
    ),
    Index("ix_features_family_name_version_key", "family_name", "version_key"),
    # What was served at a time (GET /get_deployed_features?at=): the features deployed by
    # then are one range of this index.
    Index("ix_features_deployed_time", "deployed_time"),
)


class Feature(Base):
    """A feature row; every column of ``FEATURES_TABLE`` is an attribute."""

    __table__ = FEATURES_TABLE
    # Optimistic concurrency: every UPDATE is "... WHERE revision = <the one we read>",
    # so of two racing writers one matches no row and is answered 409.
    # The stored JSON is deferred: a write loading the row never reads it, and writes it
    # from the row's fields (``db.feature_writes``).
    __mapper_args__ = {
        "version_id_col": FEATURES_TABLE.c.revision,
        "properties": {
            name: deferred(FEATURES_TABLE.c[name]) for name in (STORED_JSON, STORED_JSON_REVISION)
        },
    }

    if TYPE_CHECKING:  # for mypy: the attributes code names; the columns come from above
        id: Mapped[int]
        feature_name: Mapped[str]
        canonical_name: Mapped[str | None]
        feature_type: Mapped[str]
        feature_data_type: Mapped[str]
        description: Mapped[str]
        status: Mapped[str]
        revision: Mapped[int]
        created_by: Mapped[str]
        created_time: Mapped[int]
        updated_time: Mapped[int]
        last_updated_by: Mapped[str | None]
        query: Mapped[str]
        owner: Mapped[str | None]
        tags: Mapped[dict[str, str]]
        previous_version: Mapped[str | None]
        replaced_by: Mapped[str | None]
        family_name: Mapped[str | None]
        version_key: Mapped[str | None]
        submitted_by: Mapped[str | None]
        tested_by: Mapped[str | None]


_FIELD_VALUES = operator.itemgetter(*FIELD_NAMES)


def field_values(feature: Feature) -> dict[str, Any]:
    """Each field of the field table → its value in ``feature``. Read from the values the
    object holds (its ``__dict__``, where the ORM keeps them) in one step: an attribute
    read each was a tenth of a trigger's instructions, which reads every field three times
    (the change log's before and after, the response; docs/performance.md, "i32-trigger").
    An object lacking one (an expired attribute, a deferred one) is read attribute by
    attribute, as the ORM reads it (loaded, or its error for a detached row)."""
    try:
        return dict(zip(FIELD_NAMES, _FIELD_VALUES(feature.__dict__), strict=True))
    except KeyError:
        return {name: getattr(feature, name) for name in FIELD_NAMES}


class AuditEntry(Base):
    """One status change. Rows are only ever inserted."""

    __tablename__ = "feature_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id", ondelete="RESTRICT"))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(ACTOR)
    actor_role: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    # True when the actor was a verified principal (token mode), false for a claimed name.
    authenticated: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # How the actor was verified: "token:<token_id>", "oidc:<issuer>"; null when claimed.
    credential: Mapped[str | None] = mapped_column(String(CREDENTIAL_LENGTH))
    # True when the request overrode the trigger's guard ("force": a retirement of a
    # feature read in the quiet period, SPEC §13).
    forced: Mapped[bool] = mapped_column(Boolean, server_default=false())

    feature: Mapped[Feature] = relationship(lazy="raise")

    __table_args__ = (Index("ix_feature_audit_feature_id_id", "feature_id", "id"),)
