"""Queries built to get past the read-only check or to break the SQL parser (SPEC §2).

Each is refused with 422 naming the query, never a 500, and costs the log one short line.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask.testing import FlaskClient

from feature_gateway.domain.sql_check import MAX_NESTING_DEPTH
from tests.conftest import SEED_FEATURE

CREATE = "/create_feature_metadata"


def _create(client: FlaskClient, query: str, name: str = "hostile:query:1") -> Any:
    return client.post(CREATE, json={**SEED_FEATURE, "feature_name": name, "query": query})


def _nested(depth: int, opening: str = "(", closing: str = ")") -> str:
    return "SELECT " + opening * depth + "1" + closing * depth


def _query_problem(response: Any) -> str:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    [message] = response.get_json()["errors"]["query"]
    return str(message)


@pytest.mark.parametrize(
    "query",
    [
        _nested(50),
        _nested(MAX_NESTING_DEPTH + 1),
        _nested(400, "f(", ")"),
        "SELECT * FROM " + "(SELECT * FROM " * 200 + "t" + ")" * 200,
        "SELECT " + "NOT " * 2_000 + "1",
        "SELECT " + "CASE WHEN " * 300 + "1" + " THEN 1 END" * 300,
    ],
    ids=["50 brackets", "one past the limit", "calls", "subqueries", "NOT chain", "CASE chain"],
)
def test_a_query_nested_too_deeply_is_unprocessable_not_a_server_error(
    client: FlaskClient, query: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        message = _query_problem(_create(client, query))
    assert "too deeply" in message and str(MAX_NESTING_DEPTH) in message
    # It was a RecursionError's 190 KB traceback per request: now nothing longer than a line.
    formatter = logging.Formatter("%(message)s")
    assert all(len(formatter.format(record)) < 2_000 for record in caplog.records)
    assert not [record for record in caplog.records if record.exc_info]


@pytest.mark.parametrize(
    "query",
    [
        _nested(MAX_NESTING_DEPTH),
        _nested(MAX_NESTING_DEPTH, "f(", ")"),
        "SELECT * FROM " + "(SELECT * FROM " * MAX_NESTING_DEPTH + "t" + ")" * MAX_NESTING_DEPTH,
    ],
    ids=["brackets", "calls", "subqueries"],
)
def test_a_query_nested_as_deep_as_allowed_is_accepted(client: FlaskClient, query: str) -> None:
    response = _create(client, query)
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1 /* /* */ ; DROP TABLE t; /* */ */",
        "SELECT 1 /* /* */ ; DROP TABLE t; /* */ */ FROM t",
        "SELECT a /* outer /* inner */ a comment to some, code to others */ FROM t",
        "SELECT /*+ /* */ 1",
    ],
    ids=["the probe's", "followed by more SQL", "nested", "in a hint"],
)
def test_a_block_comment_that_contains_an_opener_is_refused(
    client: FlaskClient, query: str
) -> None:
    # SQLite and MySQL end the comment at the first "*/", and run the DROP downstream.
    assert "contains '/*'" in _query_problem(_create(client, query))


@pytest.mark.parametrize(
    "query",
    [
        "SELECT '/* not a comment */' AS a FROM t /* a comment */",
        'SELECT "odd/*name" FROM t -- a line comment with /* in it',
        "SELECT a /* one */ /* two */ FROM t",
    ],
    ids=["in a string", "in a name and a line comment", "two comments"],
)
def test_an_opener_outside_a_block_comment_is_fine(client: FlaskClient, query: str) -> None:
    response = _create(client, query)
    assert response.status_code == 201, response.get_data(as_text=True)
