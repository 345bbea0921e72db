"""Statements compiled once for the driver (``db.compiled``) hold no values of their own."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from feature_gateway.db.compiled import compile_statement
from feature_gateway.db.models import FEATURES_TABLE

name_column = FEATURES_TABLE.c.feature_name


@pytest.mark.parametrize(
    "dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"]
)
def test_a_statement_with_a_value_in_it_is_refused(dialect):
    # Compiled once and reused, it would answer every later query with this value.
    with pytest.raises(ValueError, match="parameters with values"):
        compile_statement(select(name_column).where(name_column == "view:f:1"), dialect)


def test_named_parameters_are_passed_in_the_order_a_positional_driver_needs():
    statement = select(name_column).where(
        FEATURES_TABLE.c.status == bindparam("b"), name_column == bindparam("a")
    )
    positional = compile_statement(statement, sqlite.dialect())
    assert positional.parameters({"a": 1, "b": 2}) == [2, 1]
    named = compile_statement(statement, postgresql.dialect())
    assert named.parameters({"a": 1, "b": 2}) == {"a": 1, "b": 2}
