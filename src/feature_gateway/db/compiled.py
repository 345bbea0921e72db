"""Statements compiled once and run by the driver, for the hottest reads and the writes'
own statements.

Going through a ``Connection`` (a cache-key walk of the statement, then a result wrapper
per execution) cost several times what the driver takes for the same indexed SELECT, and
the hot reads are little else (docs/performance.md). The statements are still
SQLAlchemy's, compiled by it for the dialect; only their execution is direct. Inside a
transaction they run by ``on_driver``, which handles a driver error as SQLAlchemy does.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import CompoundSelect, Connection, Dialect, Executable, Select
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session

ResultProcessor = Callable[[Any], Any] | None
T = TypeVar("T")


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


def compile_statement(
    statement: Select[Any] | CompoundSelect[Any], dialect: Dialect
) -> CompiledStatement:
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
def compiled_once(
    statement: Select[Any] | CompoundSelect[Any], dialect: Dialect
) -> CompiledStatement:
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
    case has not changed. Run by ``on_driver``: a driver error is handled as SQLAlchemy's
    execution handles it."""
    connection = session.connection()
    compiled = compiled_once(statement, connection.dialect)
    return on_driver(connection, compiled.sql, compiled.parameters(values), all_rows)


def all_rows(cursor: Any) -> list[Any]:
    """What a SELECT returns: its rows."""
    return list(cursor.fetchall())


def first_value(cursor: Any) -> Any:
    """What an ``INSERT … RETURNING id`` of one row returns: the id."""
    return cursor.fetchone()[0]


def row_count(cursor: Any) -> int:
    """The rows an UPDATE or DELETE matched."""
    return int(cursor.rowcount)


def on_driver(connection: Connection, sql: str, parameters: Any, result: Callable[[Any], T]) -> T:
    """Run ``sql`` on a cursor of the driver's connection behind ``connection`` (in its
    transaction, begun if it was not) and return ``result(cursor)``.

    ``Connection.exec_driver_sql`` skips the compiling too, but makes an execution context
    and a result (its columns described from the cursor's) for every statement: with the
    session's bookkeeping it was a tenth of a create's CPU (docs/performance.md,
    "i27-create"). What it does with a driver error is done here by public calls, so every
    caller sees the same: SQLAlchemy's exception for it (``DBAPIError.instance``: an
    ``IntegrityError`` for a unique violation, 409 by ``db.violations``; an
    ``OperationalError`` for a lost connection or a full disk, 503 by the unit of work), the
    parameters hidden as the engine hides them, and a connection the dialect calls lost
    invalidated (never handed out again). The pool's other connections are tested when next
    checked out (``db.engine``), where SQLAlchemy would also have marked them all stale.
    No ``before_cursor_execute`` or ``handle_error`` event runs for these statements (the
    service listens to neither).
    """
    dialect = connection.dialect
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return result(cursor)
    except dialect.loaded_dbapi.Error as exc:
        raise driver_error(connection, sql, parameters, exc, cursor) from exc
    finally:
        with contextlib.suppress(Exception):  # a lost connection's cursor may refuse
            cursor.close()


def driver_error(
    connection: Connection, sql: str, parameters: Any, exc: Any, cursor: Any
) -> StatementError:
    """SQLAlchemy's exception for the driver's ``exc`` raised by ``sql`` (see ``on_driver``),
    the connection invalidated if the dialect calls it lost."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor)
    if lost and not connection.invalidated:
        connection.invalidate(exc)
    error: StatementError = DBAPIError.instance(
        sql,
        parameters,
        exc,
        dialect.loaded_dbapi.Error,
        hide_parameters=connection.engine.hide_parameters,
        connection_invalidated=lost,
        dialect=dialect,
    )
    return error
