"""Append-only rows (the history, the change log) written by Core inserts at commit.

Such rows are inserted once and never changed, so the ORM's unit of work (a flush's
dependency sort, identity map and per-object bookkeeping, a second flush for the change
log) buys them nothing; with the commit it was two thirds of a write's CPU
(docs/performance.md, "Figures behind the code"). The use case still builds the mapped
objects (``AuditEntry``, ``FeatureChange``), never added to the session. What is inserted
is read from each object: every mapped column it was given a value for, and the keys of
its many-to-one relationships (``feature`` → ``feature_id``) from the related row, flushed
by then. A column added to a model and set where the object is built is written without
another edit here; one left unset gets its server default, as with the ORM.

Each row's INSERT is compiled once per set of columns and run by the driver
(``db.compiled.on_driver``: SQLAlchemy's handling of a driver error kept), each value
converted by its column's type as Core would (a JSON column's text): executing the
statement through the Connection (a cache-key walk and the compiled-parameter handling per
row) cost another 3 % of a create, ``exec_driver_sql``'s result for each row a few more.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Insert, insert, inspect
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.interfaces import MANYTOONE

from feature_gateway.db.base import Base
from feature_gateway.db.compiled import (
    CompiledStatement,
    compile_for_driver,
    first_value,
    on_driver,
)


@dataclass(frozen=True)
class _Plan:
    """How one mapped class's objects become the values of its table's INSERT."""

    columns: tuple[tuple[str, str], ...]  # (attribute, column key)
    # (relationship attribute, ((column key, attribute of the related row), ...))
    references: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    primary_key: str  # the attribute that receives the new row's id
    statement: Insert


@functools.cache
def _plan(mapper: Mapper[Any]) -> _Plan:
    references = tuple(
        (
            relation.key,
            tuple(
                (str(local.key), relation.mapper.get_property_by_column(remote).key)
                for local, remote in relation.local_remote_pairs or ()
            ),
        )
        for relation in mapper.relationships
        if relation.direction is MANYTOONE
    )
    columns = tuple((prop.key, prop.columns[0].key) for prop in mapper.column_attrs)
    [key] = mapper.primary_key
    table = mapper.local_table
    return _Plan(
        columns,
        references,
        mapper.get_property_by_column(key).key,
        # One row a statement, its id returned (a write appends one to three rows).
        insert(table).returning(key),  # type: ignore[arg-type]
    )


def _values(plan: _Plan, row: Base) -> dict[str, Any]:
    given = row.__dict__  # what the object was given (and the ORM's state, not a column)
    values = {column: given[attribute] for attribute, column in plan.columns if attribute in given}
    for relation, pairs in plan.references:
        related = given.get(relation)
        if related is not None:
            values.update((column, getattr(related, attribute)) for column, attribute in pairs)
    return values


def insert_appended(connection: Connection, rows: Sequence[Base]) -> None:
    """Insert ``rows`` (new objects of one mapped class, in the order given, the rows they
    refer to flushed) and give each its id."""
    if not rows:
        return
    plan = _plan(inspect(type(rows[0])))
    dialect = connection.dialect
    for row in rows:
        values = _values(plan, row)
        compiled = _compiled(plan, tuple(values), dialect)
        new_id = on_driver(connection, compiled.sql, compiled.parameters(values), first_value)
        setattr(row, plan.primary_key, new_id)


@functools.lru_cache(maxsize=64)
def _compiled(plan: _Plan, keys: tuple[str, ...], dialect: Any) -> CompiledStatement:
    """The INSERT of one row with these columns, compiled once."""
    return compile_for_driver(plan.statement, dialect, keys)
