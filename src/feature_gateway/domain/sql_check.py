"""The rule that a feature's query is exactly one read-only SELECT statement.

The query is stored, never executed, but a feature store that accepts DDL or DML as a
"feature definition" invites someone downstream to run it. A real parser (sqlglot) is
used because prefixes lie: ``WITH d AS (DELETE ... RETURNING *) SELECT ...`` starts like
a read and is not one.

Two things are refused before the parser sees them, because readers disagree on them or the
parser cannot take them (SPEC §2): a block comment that contains ``/*`` (PostgreSQL nests
block comments, SQLite and MySQL do not, so ``/* /* */ ; DROP TABLE t; /* */ */`` is one
comment to one engine and a DROP to another), and brackets nested deeper than
``MAX_NESTING_DEPTH`` (the parser recurses per level and would run out of stack).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence

from sqlglot import Token, TokenType, exp
from sqlglot.dialects.dialect import Dialect
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
# sqlglot's own dialect, the one ``sqlglot.parse`` reads without ``read=``.
_DIALECT = Dialect.get_or_raise(None)

# Far beyond what people write, and well inside what the parser can recurse through in a
# request (about 40 levels of function calls with Python's default recursion limit).
MAX_NESTING_DEPTH = 25
_OPENING = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSING = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})

# The comments in text that holds only white space and comments, read as engines that do
# not nest them read it: a block comment ends at the first "*/".
_COMMENT = re.compile(r"--[^\r\n]*|/\*(?P<block>.*?)\*/", re.DOTALL)


# The queries accepted lately, by a digest of their text, newest last: a query sent again
# (a retry, an update sending the record back, a client creating features from one
# template) is not parsed again. Only acceptances are kept: the verdict on a text is the
# text's alone (the same parser, no settings), but a refusal for nesting too deep for the
# stack (RecursionError) could depend on where the check was called from. A digest keeps
# each entry small whatever the query's length (up to 100,000 characters).
ACCEPTED_MEMORY = 1024
_accepted: OrderedDict[bytes, None] = OrderedDict()
_accepted_lock = threading.Lock()


class UnsafeQueryError(ValueError):
    """The query is not a single read-only statement; the message says why."""


def check_read_only_query(sql: str) -> None:
    """Raise ``UnsafeQueryError`` unless ``sql`` is one read-only SELECT statement."""
    digest = hashlib.blake2b(sql.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    with _accepted_lock:
        if digest in _accepted:
            _accepted.move_to_end(digest)
            return
    _check(sql)
    with _accepted_lock:
        _accepted[digest] = None
        if len(_accepted) > ACCEPTED_MEMORY:
            _accepted.popitem(last=False)


def _check(sql: str) -> None:
    try:
        tokens = _DIALECT.tokenize(sql)
        _check_comments(sql, tokens)
        _check_nesting(tokens)
        # sqlglot yields None for empty statements and a Semicolon node for a comment after
        # the last ";": neither is a statement.
        statements = [
            s
            for s in _DIALECT.parser().parse(tokens, sql)
            if s is not None and not isinstance(s, exp.Semicolon)
        ]
    except SqlglotError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise UnsafeQueryError(f"Query is not valid SQL: {first_line}") from None
    except RecursionError:
        # Nesting that is not brackets (NOT NOT NOT ..., CASE in CASE): the same answer.
        raise UnsafeQueryError(_too_deep("expressions")) from None
    _check_statements(statements)


def _check_statements(statements: Sequence[exp.Expr]) -> None:
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


def _check_comments(sql: str, tokens: Sequence[Token]) -> None:
    for text in _commentary(sql, tokens):
        for comment in _COMMENT.finditer(text):
            if "/*" in (comment.group("block") or ""):
                raise UnsafeQueryError(
                    "Query has a block comment that contains '/*': database engines disagree "
                    "on whether block comments nest, so it may hide a statement."
                )


def _commentary(sql: str, tokens: Sequence[Token]) -> Iterator[str]:
    """The text between tokens (white space and comments), and optimizer hints (comments
    the tokenizer keeps as tokens); string literals and quoted names are left out."""
    end = 0
    for token in tokens:
        yield sql[end : token.start]
        if token.token_type is TokenType.HINT:
            yield sql[token.start : token.end + 1]
        end = token.end + 1
    yield sql[end:]


def _check_nesting(tokens: Sequence[Token]) -> None:
    depth = 0
    for token in tokens:
        if token.token_type in _OPENING:
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                raise UnsafeQueryError(_too_deep("brackets"))
        elif token.token_type in _CLOSING:
            depth -= 1


def _too_deep(what: str) -> str:
    return (
        f"Query nests {what} too deeply to be checked: at most {MAX_NESTING_DEPTH} levels "
        "of brackets, subqueries or nested expressions."
    )


def _kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return f"a {str(node.this).upper()} command"
    if isinstance(node, exp.Into):
        return "SELECT ... INTO (which creates a table)"
    if isinstance(node, exp.Lock):
        return "a locking clause (FOR UPDATE/SHARE)"
    return f"a {node.key.upper()} statement"
