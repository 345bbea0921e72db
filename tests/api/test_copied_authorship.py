"""A new version keeps the authorship of the definition it copies (SPEC §7, last rule of
separation of duties): alice writes x:1, bob makes x:2 from it unchanged, and alice may
still neither test nor approve x:2 — nor x:3 copied from x:2, and so on down the chain.
"""

from __future__ import annotations

import pytest

from tests.api.test_separation_of_duties import NAME, Token, Trust, _ok

V2, V3 = NAME.replace(":1", ":2"), NAME.replace(":1", ":3")
AUTHORS = {"alice": "created", "erin": "changed the definition of"}  # of version 1


@pytest.fixture(params=["trust", "token"])
def caller(request, client, token_client, issue_token):
    return Trust(client) if request.param == "trust" else Token(token_client, issue_token)


def _written_by_alice_and_erin(caller) -> None:
    _ok(caller.act("create", "alice"))
    _ok(caller.act("change", "erin"))


def _ready_for(caller, trigger: str, feature: str) -> None:
    _ok(caller.act("submit", "sam", feature))
    if trigger != "test":
        _ok(caller.act("test", "tess", feature))


@pytest.mark.parametrize("trigger", ["test", "approve", "reject"])
@pytest.mark.parametrize("author", AUTHORS)
def test_an_unchanged_copy_counts_the_sources_authors_as_its_own(caller, trigger, author):
    _written_by_alice_and_erin(caller)
    created = _ok(caller.act("version", "bob"))["metadata"]
    assert created["feature_name"] == V2 and created["query"] == "SELECT 2"
    _ready_for(caller, trigger, V2)
    refused = caller.act(trigger, author, V2)
    assert refused.status_code == 403, refused.get_json()
    assert refused.get_json()["detail"] == (
        f"Separation of duties: {author} changed this feature's definition, "
        f"so {author} cannot {trigger} it."
    )
    assert caller.act(trigger, "frank", V2).status_code == 200


@pytest.mark.parametrize("trigger", ["test", "approve", "reject"])
@pytest.mark.parametrize("author", ["alice", "erin", "bob"])
def test_authorship_carries_down_a_chain_of_unchanged_copies(caller, trigger, author):
    _written_by_alice_and_erin(caller)
    _ok(caller.act("version", "bob"))  # x:2 from x:1
    _ok(caller.act("version", "carol", V2))  # x:3 from x:2
    _ready_for(caller, trigger, V3)
    refused = caller.act(trigger, author, V3)
    assert refused.status_code == 403, refused.get_json()
    assert f"{author} changed this feature's definition" in refused.get_json()["detail"]
    assert caller.act(trigger, "frank", V3).status_code == 200


@pytest.mark.parametrize("trigger", ["test", "approve"])
def test_a_copy_that_changes_the_query_does_not_count_the_sources_authors(caller, trigger):
    _written_by_alice_and_erin(caller)
    _ok(caller.act("version", "bob", query="SELECT 3"))
    _ready_for(caller, trigger, V2)
    assert caller.act(trigger, "alice", V2).status_code == 200


def test_a_change_to_the_source_after_the_copy_does_not_reach_the_copy(caller):
    _ok(caller.act("create", "alice"))
    _ok(caller.act("version", "bob"))
    _ok(caller.act("change", "erin"))  # x:1's query now is erin's; x:2 kept alice's
    _ready_for(caller, "approve", V2)
    assert caller.act("approve", "alice", V2).status_code == 403
    assert caller.act("approve", "erin", V2).status_code == 200
