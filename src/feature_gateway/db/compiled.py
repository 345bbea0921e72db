"""Statements compiled once and run by the driver, for the hottest reads.

Going through a ``Connection`` (a cache-key walk of the statement, then a result wrapper
per execution) cost several times what the driver takes for the same indexed SELECT, and
the hot reads are little else (docs/performance.md). The statements are still
SQLAlchemy's, compiled by it for the dialect; only their execution is direct.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Dialect, Executable, Select
from sqlalchemy.orm import Session

ResultProcessor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class CompiledStatement:
    """SQL as the driver takes it, the parameter names in the order of a positional
    driver's placeholders (None: the driver takes them by name), each selected column's
    conversion of what the driver returns (a JSON column's text, for one), each parameter's
    conversion of what it is given (its type's bind processor, where it has one), and the
    values the compiler set itself (SQLite's ``OFFSET 0`` after a ``LIMIT``)."""

    sql: str
    positions: tuple[str, ...] | None
    processors: tuple[ResultProcessor, ...]
    conversions: tuple[tuple[str, Callable[[Any], Any]], ...] = ()
    constants: tuple[tuple[str, Any], ...] = ()

    def parameters(self, values: dict[str, Any]) -> Any:
        """``values`` as the driver's cursor takes them: converted, in order for a
        positional driver."""
        if self.constants or self.conversions:
            values = {**values, **dict(self.constants)}
            for name, convert in self.conversions:
                values[name] = convert(values[name])
        if self.positions is None:
            return values
        return [values[name] for name in self.positions]

    def connection_parameters(self, values: dict[str, Any]) -> Any:
        """``parameters`` for ``Connection.exec_driver_sql``, which reads a list as several
        parameter sets: a positional driver's as a tuple."""
        given = self.parameters(values)
        return tuple(given) if isinstance(given, list) else given


def compile_for_driver(
    statement: Executable, dialect: Dialect, column_keys: tuple[str, ...] | None = None
) -> CompiledStatement:
    """Compile any statement (a SELECT, or an INSERT, UPDATE or DELETE, with ``column_keys``
    naming the columns an INSERT or UPDATE is given) for the driver, with the conversions
    SQLAlchemy would apply to its parameters and, for a SELECT, its columns."""
    keys = None if column_keys is None else list(column_keys)
    compiled = statement.compile(dialect=dialect, column_keys=keys)  # type: ignore[attr-defined]
    conversions, constants = [], []
    for name, bind in compiled.binds.items():
        if bind.value is not None and not bind.required:  # an INSERT's columns: required
            constants.append((name, bind.value))
            continue
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            conversions.append((name, convert))
    columns = statement.selected_columns if isinstance(statement, Select) else ()
    processors = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
    )
    positions = tuple(compiled.positiontup or ()) if compiled.positional else None
    return CompiledStatement(
        compiled.string, positions, processors, tuple(conversions), tuple(constants)
    )


def compile_statement(statement: Select[Any], dialect: Dialect) -> CompiledStatement:
    """Compile a hot read for the driver; every parameter must be named (none given as a
    literal value, which the compiled SQL would then hold for every later query of its
    shape). Its values go to the driver as given, unconverted: the reads pass plain strings,
    numbers and lists, which psycopg and sqlite3 take as they are (the conversions of an
    ARRAY parameter, say, would be per-request work for nothing)."""
    compiled = compile_for_driver(statement, dialect)
    if compiled.constants:
        anonymous = [name for name, _ in compiled.constants]
        raise ValueError(f"statement has parameters with values, not names: {anonymous}")
    return replace(compiled, conversions=())


@functools.lru_cache(maxsize=64)  # a handful of statements for each engine's dialect
def compiled_once(statement: Select[Any], dialect: Dialect) -> CompiledStatement:
    """A statement built once at import (a read by name), compiled once per dialect."""
    return compile_statement(statement, dialect)


def fetch_all(
    cursor_of: Callable[[], Any], statement: CompiledStatement, values: dict[str, Any]
) -> list[Any]:
    """The rows of ``statement`` run with ``values`` on a new cursor of ``cursor_of``."""
    cursor = cursor_of()
    try:
        cursor.execute(statement.sql, statement.parameters(values))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def in_session(session: Session, statement: Select[Any], values: dict[str, Any]) -> list[Any]:
    """The rows of a statement built once, as the driver returns them (no column type
    conversions), run on the session's connection inside its transaction (begun if it was
    not). Pending changes are not flushed first: only for statements whose rows the use
    case has not changed.

    ``exec_driver_sql`` skips the compiling but not SQLAlchemy's handling of driver errors:
    a lost connection is still invalidated and raised as SQLAlchemy's ``OperationalError``,
    which the unit of work answers with 503.
    """
    connection = session.connection()
    compiled = compiled_once(statement, connection.dialect)
    return list(connection.exec_driver_sql(compiled.sql, compiled.connection_parameters(values)))
