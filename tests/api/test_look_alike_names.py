"""Names of people (SPEC §2): no white space at either end, no control or format characters,
and two names are one person when they fold alike (NFKC + case) or look alike (TR39).

Before, "alice ", "alice\\u200b", "alice" with a Cyrillic "a" and "alice" in fullwidth letters
were four more people, each free to test or approve what alice wrote.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from feature_gateway.db.feature_json import rewrite_stored_json
from tests.api.test_separation_of_duties import NAME, Token, Trust, _ok
from tests.conftest import SEED_FEATURE, bearer

CYRILLIC_A, FULLWIDTH = "\u0430lice", "\uff41\uff4c\uff49\uff43\uff45"
INVISIBLE = {
    "trailing space": "alice ",
    "leading space": " alice",
    "trailing no-break space": "alice\u00a0",
    "zero width space": "ali\u200bce",
    "byte order mark": "\ufeffalice",
    "right-to-left override": "alice\u202e",
    "a control character": "ali\x07ce",
    "a tag character": "alice\U000e0001",
}
LOOK_ALIKES = {"upper case": "ALICE", "Cyrillic a": CYRILLIC_A, "fullwidth": FULLWIDTH,
               "capital I for l": "aIice"}  # fmt: skip


@pytest.fixture(params=["trust", "token"])
def caller(request, client, token_client, issue_token):
    return Trust(client) if request.param == "trust" else Token(token_client, issue_token)


@pytest.mark.parametrize("field", ["created_by", "owner"])
@pytest.mark.parametrize("name", INVISIBLE.values(), ids=INVISIBLE)
def test_a_name_with_invisible_differences_is_refused(client, field: str, name: str) -> None:
    body = {**SEED_FEATURE, "created_by": "dev", field: name}
    response = client.post("/create_feature_metadata", json=body)
    assert response.status_code == 422, response.get_json()
    [message] = response.get_json()["errors"][field]
    assert "white space" in message or "invisible character" in message


@pytest.mark.parametrize("name", ["al ice", "Zoë", "李小龍", "o'brien-smith", "x"])
def test_names_with_inner_spaces_and_any_script_are_fine(client, name: str) -> None:
    response = client.post("/create_feature_metadata", json={**SEED_FEATURE, "created_by": name})
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("name", INVISIBLE.values(), ids=INVISIBLE)
def test_a_token_cannot_be_issued_to_a_name_with_invisible_differences(
    token_client, issue_token, name: str
) -> None:
    admin = bearer(issue_token("admin", principal="root"))
    response = token_client.post(
        "/tokens", json={"principal": name, "roles": ["approver"]}, headers=admin
    )
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["errors"]) == {"principal"}


@pytest.mark.parametrize("trigger", ["test", "approve"])
@pytest.mark.parametrize("name", LOOK_ALIKES.values(), ids=LOOK_ALIKES)
def test_a_look_alike_of_the_creator_is_the_creator(caller, trigger: str, name: str) -> None:
    _ok(caller.act("create", "alice"))
    _ok(caller.act("submit", "sam"))
    if trigger == "approve":
        _ok(caller.act("test", "tess"))
    refused = caller.act(trigger, name)
    assert refused.status_code == 403, refused.get_json()
    assert refused.get_json()["detail"] == (
        f"Separation of duties: alice created this feature, so {name} cannot {trigger} it."
    )


def test_a_look_alike_of_the_principal_is_the_principal(token_client, issue_token) -> None:
    alice = bearer(issue_token("developer", principal="alice"))
    body = {**SEED_FEATURE, "created_by": FULLWIDTH}
    created = token_client.post("/create_feature_metadata", json=body, headers=alice)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["metadata"]["created_by"] == "alice"  # the principal is stored
    body = {**SEED_FEATURE, "feature_name": "x:y:1", "created_by": "alicia"}
    other = token_client.post("/create_feature_metadata", json=body, headers=alice)
    assert other.status_code == 403


def test_an_invisible_difference_in_a_claimed_actor_is_refused_in_token_mode(
    token_client, issue_token
) -> None:
    alice = bearer(issue_token("developer", principal="alice"))
    body = {**SEED_FEATURE, "created_by": "alice\u200b"}
    response = token_client.post("/create_feature_metadata", json=body, headers=alice)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["errors"]) == {"created_by"}


def _store_legacy_creator(connection: Any, name: str) -> None:
    connection.execute(
        text("UPDATE features SET created_by = :c WHERE feature_name = :n"),
        {"c": name, "n": NAME},
    )
    # As the rows of that release are after migration 0015's backfill.
    rewrite_stored_json(connection)


def test_names_stored_before_the_rule_still_load_and_count_as_their_person(
    client, connection
) -> None:
    trust = Trust(client)
    _ok(trust.act("create", "alice"))
    _store_legacy_creator(connection, "alice\u200b ")  # as an older release accepted it
    shown = client.get(f"/get_feature_metadata/{NAME}", headers={"X-User-Role": "developer"})
    assert shown.get_json()["metadata"]["created_by"] == "alice\u200b "
    listed = client.post(
        "/get_all_feature_metadata", json={"user_role": "developer", "created_by": "alice\u200b "}
    )
    assert [f["feature_name"] for f in listed.get_json()["metadata"]] == [NAME]
    assert listed.get_json()["metadata"][0]["created_by"] == "alice\u200b "
    _ok(trust.act("submit", "sam"))
    assert trust.act("test", "alice").status_code == 403
