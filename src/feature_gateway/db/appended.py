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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Insert, insert, inspect
from sqlalchemy.orm import Mapper, configure_mappers
from sqlalchemy.orm.instrumentation import ClassManager
from sqlalchemy.orm.interfaces import MANYTOONE

from feature_gateway.db.base import Base
from feature_gateway.db.batches import Batch
from feature_gateway.db.compiled import (
    CompiledStatement,
    compile_for_driver,
    first_value,
    on_driver,
)

R = TypeVar("R", bound=Base)


def new_row(cls: type[R], values: Mapping[str, Any]) -> R:
    """A new object of the mapped ``cls`` holding ``values``, for a row written here (or by
    ``db.feature_writes``), never by the ORM's flush: what ``cls(**values)`` makes, without
    an attribute event for each value (the declarative constructor's per-value ``setattr``
    was nearly a tenth of a create, for three objects). The object is made as the ORM makes
    a row it loads (``ClassManager.new_instance``: its state, no ``__init__``) and holds the
    values in its dict, where ``_values`` reads them and attribute access finds them. Only
    for objects the session never flushes: a flush would not see a many-to-one given so
    (no history), so a pending row keeps its constructor. A name that is no mapped
    attribute is refused as the constructor refuses it."""
    manager, attributes = _instrumented(cls)
    unknown = values.keys() - attributes
    if unknown:
        raise TypeError(
            f"{sorted(unknown)[0]!r} is an invalid keyword argument for {cls.__name__}"
        )
    row: R = manager.new_instance()
    row.__dict__.update(values)
    return row


@functools.cache
def _instrumented(cls: type[Base]) -> tuple[ClassManager[Any], frozenset[str]]:
    configure_mappers()  # what the constructor's first call would do (its "init" event)
    mapper: Mapper[Any] = inspect(cls)
    return mapper.class_manager, frozenset(mapper.attrs.keys())


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


def insert_appended(target: Connection | Batch, rows: Sequence[Base]) -> None:
    """Insert ``rows`` (new objects of one mapped class, in the order given, the rows they
    refer to flushed) and give each its id: at once on a ``Connection``; in a ``Batch``
    (``db.batches``) when its results are read."""
    if not rows:
        return
    plan = _plan(inspect(type(rows[0])))
    if isinstance(target, Batch):
        dialect = target.dialect
        for row in rows:
            values = _values(plan, row)
            compiled = _compiled(plan, tuple(values), dialect)
            target.run(compiled.sql, compiled.parameters(values), first_value,
                       functools.partial(setattr, row, plan.primary_key))  # fmt: skip
        return
    dialect = target.dialect
    for row in rows:
        values = _values(plan, row)
        compiled = _compiled(plan, tuple(values), dialect)
        new_id = on_driver(target, compiled.sql, compiled.parameters(values), first_value)
        setattr(row, plan.primary_key, new_id)


@functools.lru_cache(maxsize=64)
def _compiled(plan: _Plan, keys: tuple[str, ...], dialect: Any) -> CompiledStatement:
    """The INSERT of one row with these columns, compiled once."""
    return compile_for_driver(plan.statement, dialect, keys)
