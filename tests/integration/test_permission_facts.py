"""The facts the may-I-act answer reads, gathered for one feature or for a page of them: the
same facts either way, and a page costs one statement whatever its length (the console's
queue asks for every row)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from feature_gateway.domain.identity import Principal
from feature_gateway.domain.lifecycle import Role
from feature_gateway.domain.listing import FeatureQuery
from feature_gateway.domain.ownership import Approval, Governance, Ownership
from feature_gateway.domain.permissions import refusals
from feature_gateway.errors import OwnershipError
from feature_gateway.services import catalog, features, permissions, workflow
from tests.conftest import SEED_FEATURE

NEW = {k: v for k, v in SEED_FEATURE.items() if k not in ("user_role", "feature_name")}


def _make(database, number: int, **fields):
    name = f"facts_view:feature_{number}:1"
    features.create_feature(database, {**NEW, "feature_name": name, **fields}, role="developer")
    return name


@pytest.fixture
def statements(connection):
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    yield seen
    event.remove(connection, "before_cursor_execute", count)


@pytest.mark.parametrize("size", [1, 3, 12])
def test_a_page_of_facts_costs_one_statement_and_matches_each_features_own(
    database, statements, size
):
    names = [_make(database, n, owner="growth" if n % 2 else "dev") for n in range(size)]
    features.update_feature(
        database, names[0], {"query": "SELECT 2"}, last_updated_by="erin", role="developer"
    )
    submitted = {"submitted_by": "carol"}
    workflow.fire_trigger(database, "submit", names[0], submitted, role="developer")
    page = features.list_features(database, FeatureQuery(limit=100))
    statements.clear()
    gathered = permissions.page_facts(database, page.items)
    assert len(statements) == 1
    one_by_one = [permissions.feature_facts(database, row["feature_name"]) for row in page.items]
    assert gathered == one_by_one
    first = next(f for f in gathered if f.feature_name == names[0])
    assert first.duties.definition_changers == ("erin",)
    assert first.duties.submitter == "carol"


def test_an_empty_page_reads_nothing(database, statements):
    assert permissions.page_facts(database, []) == []
    assert statements == []


def test_the_services_refuse_what_the_answer_refuses(database):
    """A non-member's update, asked directly of the service: the same error the answer
    gives, and nothing written."""
    name = _make(database, 1, owner="growth")
    governance = Governance(Ownership.ENFORCED, Approval.INDEPENDENT)
    dave = Principal("dave", frozenset({Role.DEVELOPER}), True, frozenset({"ml"}))
    answer = refusals(dave, permissions.feature_facts(database, name), governance)["update"]
    with pytest.raises(OwnershipError) as refused:
        features.update_feature(
            database, name, {"description": "x"}, last_updated_by="dave", role="developer",
            caller=dave, governance=governance,
        )  # fmt: skip
    assert refused.value.detail == answer.detail
    assert features.get_feature(database, name)["revision"] == 1
    carol = Principal("carol", frozenset({Role.DEVELOPER}), True, frozenset({"growth"}))
    made = catalog.create_feature_version(
        database, catalog.NewVersion(name, "carol"), role="developer", caller=carol,
        governance=governance,
    )  # fmt: skip
    assert made["owner"] == "growth"
