"""A new feature's row written by a Core insert, then attached to the session as loaded.

The ORM's flush of one new row (the unit of work's sort, per-attribute bookkeeping, the
statement's cache key and result wrapper) was a fifth of a create's CPU (docs/performance.md,
"Issue 26"). The row is inserted as the ORM inserts it, and what the ORM did around the
insert is done here, derived from the mapper, so that a column added to the table needs no
edit:

- the version counter (``revision``, the mapper's ``version_id_col``): the mapper's own
  generator's first value, as the ORM's insert sets it;
- every column the object was not given is NULL (the ORM names each one), except one with
  a server default, left to the database and loaded on first access (as after the ORM's
  insert);
- the tag index (``db.catalog_repositories``), written in the same transaction, as the
  ``after_insert`` hook does for rows the ORM inserts;
- the object becomes persistent in the session (``make_transient_to_detached``, then
  ``add``: no SQL), so that what the unit of work does next sees it as if flushed: a query
  finds it in the identity map, a relationship to it (a definition change) cascades
  nothing, and a later change of it is an UPDATE checked against its revision.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from feature_gateway.db.appended import insert_appended
from feature_gateway.db.catalog_repositories import index_tags
from feature_gateway.db.models import Feature


@functools.cache
def _nullable_unset(mapper: Mapper[Any]) -> tuple[tuple[str, str], ...]:
    """(attribute, column) of the columns a new row gets NULL for when not given: every
    column but the primary key and those with a server default."""
    return tuple(
        (prop.key, prop.columns[0].key)
        for prop in mapper.column_attrs
        if not prop.columns[0].primary_key and prop.columns[0].server_default is None
    )


def insert_feature(session: Session, feature: Feature) -> None:
    """Insert the new ``feature`` (its names' derived columns set) in the session's
    transaction and make it persistent there, with its id and first revision."""
    mapper: Mapper[Any] = inspect(Feature)
    version, generator = mapper.version_id_col, mapper.version_id_generator
    if version is not None and callable(generator):
        setattr(feature, mapper.get_property_by_column(version).key, generator(None))
    given = feature.__dict__
    for attribute, _column in _nullable_unset(mapper):
        if attribute not in given:
            set_committed_value(feature, attribute, None)
    connection = session.connection()
    insert_appended(connection, [feature])
    if feature.tags:
        index_tags(connection, feature.id, feature.tags)
    make_transient_to_detached(feature)
    session.add(feature)
