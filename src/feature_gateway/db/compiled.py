"""Statements compiled once and run by the driver, for the hottest reads.

Going through a ``Connection`` (a cache-key walk of the statement, then a result wrapper
per execution) cost several times what the driver takes for the same indexed SELECT, and
the hot reads are little else (docs/performance.md). The statements are still
SQLAlchemy's, compiled by it for the dialect; only their execution is direct.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Select
from sqlalchemy.orm import Session

ResultProcessor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class CompiledStatement:
    """SQL as the driver takes it, the parameter names in the order of a positional
    driver's placeholders (None: the driver takes them by name), and each selected
    column's conversion of what the driver returns (a JSON column's text, for one)."""

    sql: str
    positions: tuple[str, ...] | None
    processors: tuple[ResultProcessor, ...]

    def parameters(self, values: dict[str, Any]) -> Any:
        if self.positions is None:
            return values
        return [values[name] for name in self.positions]


def compile_statement(statement: Select[Any], dialect: Dialect) -> CompiledStatement:
    """Compile for the driver; every parameter must be named (none given as a literal
    value, which the compiled SQL would then hold for every later query of its shape)."""
    compiled = statement.compile(dialect=dialect)
    anonymous = [bind.key for bind in compiled.binds.values() if bind.value is not None]
    if anonymous:
        raise ValueError(f"statement has parameters with values, not names: {anonymous}")
    processors = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in statement.selected_columns
    )
    positions = tuple(compiled.positiontup or ()) if compiled.positional else None
    return CompiledStatement(compiled.string, positions, processors)


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
    parameters = compiled.parameters(values)
    if isinstance(parameters, list):
        parameters = tuple(parameters)  # a list would be read as several parameter sets
    return list(connection.exec_driver_sql(compiled.sql, parameters))
