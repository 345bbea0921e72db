"""A feature's row written by Core statements, then left in the session as if flushed.

The ORM's flush of one row (the unit of work's sort, per-attribute bookkeeping, the
statement's cache key and result wrapper) was a fifth of a create's CPU and of a
transition's (docs/performance.md, "Issue 26"). The row is inserted or updated as the ORM
would, and what the ORM did around it is done here, derived from the mapper, so that a
column added to the table needs no edit. A new row (``insert_feature``):

- the version counter (``revision``, the mapper's ``version_id_col``): the mapper's own
  generator's first value, as the ORM's insert sets it;
- every column the object was not given is NULL (the ORM names each one), except one with
  a server default, left to the database and loaded on first access (as after the ORM's
  insert);
- the row's JSON and its revision (``models.STORED_JSON``, ``db.feature_json``), from the
  values it is inserted with, which the list page serves as they are;
- the tag index (``db.catalog_repositories``), written in the same transaction, as the
  ``after_insert`` hook does for rows the ORM inserts;
- the object becomes persistent in the session (``make_transient_to_detached``, then
  ``add``: no SQL), so that what the unit of work does next sees it as if flushed: a query
  finds it in the identity map, a relationship to it (a definition change) cascades
  nothing, and a later change of it is an UPDATE checked against its revision.

A changed row (``update_feature``, at commit): the columns whose values differ from those
loaded, compared as the ORM's flush compares them (each column type's ``compare_values``),
the next revision and the row's JSON at it, in one UPDATE whose WHERE clause names the
revision loaded: a row another writer changed meanwhile matches nothing, which is
SQLAlchemy's ``StaleDataError`` (a 409), as with the ORM; changed tags are indexed again
(the ``after_update`` hook's work); the object is then clean and loaded at its new
revision (as after a flush). Nothing changed: no statement, the revision stays (as with
the ORM).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Update, bindparam, inspect, update
from sqlalchemy.orm import Mapper, Session, make_transient, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from feature_gateway.db.appended import insert_appended
from feature_gateway.db.batches import Batch
from feature_gateway.db.catalog_repositories import index_tags, replace_tags
from feature_gateway.db.compiled import (
    CompiledStatement,
    compile_for_driver,
    on_driver,
    row_count,
)
from feature_gateway.db.feature_json import stored_json
from feature_gateway.db.models import FEATURES_TABLE, STORED_JSON, STORED_JSON_REVISION, Feature
from feature_gateway.domain.feature_fields import FIELD_NAMES

# The UPDATE of a loaded row: its id and the revision (the mapper's version counter,
# ``db.models``) it was loaded at in the WHERE clause.
_UPDATE: Update = update(FEATURES_TABLE).where(
    FEATURES_TABLE.c.id == bindparam("_id"), FEATURES_TABLE.c.revision == bindparam("_loaded")
)


@functools.cache
def _version(mapper: Mapper[Any]) -> tuple[str, str, Callable[[Any], Any]]:
    """(attribute, column, the next value from the last) of the mapper's version counter."""
    column, generator = mapper.version_id_col, mapper.version_id_generator
    if column is None or not callable(generator):
        raise TypeError(f"{mapper} has no version counter to check its writes against")
    return mapper.get_property_by_column(column).key, str(column.key), generator


@functools.cache
def _nullable_unset(mapper: Mapper[Any]) -> tuple[tuple[str, str], ...]:
    """(attribute, column) of the columns a new row gets NULL for when not given: every
    column but the primary key and those with a server default."""
    return tuple(
        (prop.key, prop.columns[0].key)
        for prop in mapper.column_attrs
        if not prop.columns[0].primary_key and prop.columns[0].server_default is None
    )


def insert_feature(
    session: Session, feature: Feature, *, kept: bool = True, batch: Batch | None = None
) -> None:
    """Insert the new ``feature`` (its names' derived columns set) in the session's
    transaction, with its id and first revision, and (``kept``) make it persistent there.
    Not ``kept``: the object stays out of the session, for a use case that only returns it
    (a create); making it persistent was a twenty-fifth of a create (docs/performance.md,
    "i28-create"). In ``batch`` (``db.batches``): its id is set when the batch's results
    are read, then, unless there is more to do with it here (tags, ``kept``)."""
    mapper: Mapper[Any] = inspect(Feature)
    revision_key, _, generator = _version(mapper)
    setattr(feature, revision_key, generator(None))
    # Into the object's own dict (the ORM's state of it), which make_transient_to_detached
    # below takes as loaded: set_committed_value for each was a tenth of a create.
    given = feature.__dict__
    for attribute, _column in _nullable_unset(mapper):
        given.setdefault(attribute, None)
    given[STORED_JSON] = written = stored_json(given)
    given[STORED_JSON_REVISION] = None if written is None else given[revision_key]
    if batch is None:
        connection = session.connection()
        insert_appended(connection, [feature])
    else:
        insert_appended(batch, [feature])
        if not (feature.tags or kept):
            return
        batch.results()  # its id, for the tag index and the session's identity map
        connection = batch.connection
    if feature.tags:
        index_tags(connection, feature.id, feature.tags)
    if kept:
        make_transient_to_detached(feature)
        session.add(feature)


@functools.cache
def _columns(mapper: Mapper[Any]) -> dict[str, tuple[str, Any]]:
    """Attribute → (column, the column type's comparison, as the ORM's flush uses it)."""
    return {
        prop.key: (prop.columns[0].key, prop.columns[0].type.compare_values)
        for prop in mapper.column_attrs
    }


def update_feature(
    session: Session, feature: Feature, *, kept: bool = True, batch: Batch | None = None
) -> None:
    """Write what changed in the loaded ``feature`` (see the module): StaleDataError when
    another writer changed the row since it was loaded. Not ``kept``: the object is then
    left out of the session, holding its values at the new revision (the unit of work's
    last commit, ``UnitOfWork.commit``), instead of made clean in it. In ``batch``
    (``db.batches``): the UPDATE is sent with what follows it (the history, the change
    log), and an UPDATE that matched no row is StaleDataError when the batch's results are
    read (at once on SQLite), before the commit; not when the tags changed, whose index is
    rewritten after the row, at once."""
    mapper: Mapper[Any] = inspect(Feature)
    state, values = inspect(feature), feature.__dict__
    columns = _columns(mapper)
    loaded = state.committed_state  # the values loaded, of the attributes set since
    changed = {
        columns[key][0]: values[key]
        for key in loaded.keys() & columns.keys()
        if columns[key][1](values[key], loaded[key]) is not True
    }
    if not changed:
        return
    revision_key, revision_column, generator = _version(mapper)
    was = loaded.get(revision_key, values[revision_key])
    revision = changed.setdefault(revision_column, generator(was))
    changed[STORED_JSON] = written = stored_json(_fields(feature, values, revision_key, revision))
    changed[STORED_JSON_REVISION] = None if written is None else revision
    where = {"_id": feature.id, "_loaded": was}
    if batch is not None and "tags" not in changed:
        compiled = _compiled_update(tuple(changed), batch.dialect)
        batch.run(compiled.sql, compiled.parameters({**changed, **where}), row_count,
                  functools.partial(_matched, feature.id, was))  # fmt: skip
    else:
        connection = session.connection() if batch is None else batch.connection
        _matched(feature.id, was, _execute(connection, changed, where))
        if "tags" in changed:
            replace_tags(connection, feature.id, feature.tags)
    if not kept:  # out of the session, so that its flush does not write it again
        values[revision_key] = changed[revision_column]
        make_transient(feature)
        return
    # Clean, as loaded at its new revision: out of the session and back in, every value it
    # has now taken as loaded (InstanceState._commit_all, what a flush does, would be a
    # third of the cost, but it is private API: tests/unit/test_framework_adapter.py).
    set_committed_value(feature, revision_key, changed[revision_column])
    make_transient(feature)
    make_transient_to_detached(feature)
    session.add(feature)


def _matched(feature_id: int, loaded: int, rows: int) -> None:
    """The UPDATE of the row loaded at revision ``loaded`` matched it, or another writer
    changed it since (StaleDataError, as the ORM's flush raises it: a 409)."""
    if rows != 1:
        raise StaleDataError(f"features row {feature_id} is no longer at revision {loaded}")


def _fields(
    feature: Feature, values: dict[str, Any], revision_key: str, revision: int
) -> dict[str, Any]:
    """The row's fields once updated: its values (an attribute not loaded read as the ORM
    reads it), at the new revision."""
    fields = {name: values[name] if name in values else getattr(feature, name)
              for name in FIELD_NAMES}  # fmt: skip
    fields[revision_key] = revision
    return fields


def _execute(connection: Connection, changed: dict[str, Any], where: dict[str, Any]) -> int:
    """Run the UPDATE of the ``changed`` columns by the driver; the rows it matched."""
    compiled = _compiled_update(tuple(changed), connection.dialect)
    parameters = compiled.parameters({**changed, **where})
    return on_driver(connection, compiled.sql, parameters, row_count)


@functools.lru_cache(maxsize=64)
def _compiled_update(keys: tuple[str, ...], dialect: Any) -> CompiledStatement:
    """The UPDATE of these columns compiled once."""
    return compile_for_driver(_UPDATE, dialect, keys)
