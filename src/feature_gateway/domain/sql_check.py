"""The rule that a feature's query is exactly one read-only SELECT statement.

The query is stored, never executed, but a feature store that accepts DDL or DML as a
"feature definition" invites someone downstream to run it. A real parser (sqlglot) is
used because prefixes lie: ``WITH d AS (DELETE ... RETURNING *) SELECT ...`` starts like
a read and is not one.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

_READ_ONLY_ROOTS = (exp.Select, exp.SetOperation, exp.Subquery)
_WRITES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Into,
    exp.Lock,
    exp.Command,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Copy,
)


class UnsafeQueryError(ValueError):
    """The query is not a single read-only statement; the message says why."""


def check_read_only_query(sql: str) -> None:
    """Raise ``UnsafeQueryError`` unless ``sql`` is one read-only SELECT statement."""
    try:
        # sqlglot yields None for empty statements and a Semicolon node for a comment after
        # the last ";": neither is a statement.
        statements = [
            s for s in sqlglot.parse(sql) if s is not None and not isinstance(s, exp.Semicolon)
        ]
    except SqlglotError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise UnsafeQueryError(f"Query is not valid SQL: {first_line}") from exc
    if not statements:
        raise UnsafeQueryError("Query is empty; it must be one SELECT statement.")
    if len(statements) > 1:
        raise UnsafeQueryError(f"Query must be exactly one statement, found {len(statements)}.")
    statement = statements[0]
    if not isinstance(statement, _READ_ONLY_ROOTS):
        raise UnsafeQueryError(
            f"Query must be a read-only SELECT (or WITH ... SELECT); found {_kind(statement)}."
        )
    write = next(statement.find_all(*_WRITES), None)
    if write is not None:
        raise UnsafeQueryError(f"Query must be read-only; it contains {_kind(write)}.")


def _kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return f"a {str(node.this).upper()} command"
    if isinstance(node, exp.Into):
        return "SELECT ... INTO (which creates a table)"
    if isinstance(node, exp.Lock):
        return "a locking clause (FOR UPDATE/SHARE)"
    return f"a {node.key.upper()} statement"
