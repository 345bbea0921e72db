"""In token mode the actor of every write is the principal (SPEC §7), at each trigger
endpoint there is: the endpoints, their actor fields and their roles are read from the
tables, so a trigger added later is checked here without a line added."""

import pytest
from sqlalchemy import text

from feature_gateway.domain.feature_fields import TRIGGER_STAMPS
from feature_gateway.domain.lifecycle import TRIGGERS
from feature_gateway.shapes.trigger_endpoints import TRIGGER_ENDPOINTS
from tests.conftest import bearer

PRINCIPAL = "carol"


@pytest.fixture
def history(connection):
    """Who each history entry of a feature names, and whether it was verified."""

    def entries(feature_name):
        rows = connection.execute(
            text(
                "SELECT a.actor, a.authenticated FROM feature_audit a"
                " JOIN features f ON f.id = a.feature_id"
                " WHERE f.feature_name = :name ORDER BY a.id"
            ),
            {"name": feature_name},
        )
        return [(actor, bool(authenticated)) for actor, authenticated in rows]

    return entries


def _request(endpoint, make_feature, issue_token):
    """A feature the endpoint's trigger may be fired on, the example request for it without
    role and actor, the actor field, and a token of the roles that may fire it."""
    trigger = TRIGGERS[endpoint.trigger]
    name = make_feature(sorted(trigger.sources)[0])["feature_name"]
    actor = TRIGGER_STAMPS[endpoint.trigger].actor
    body = {k: v for k, v in endpoint.example.items() if k not in ("user_role", actor)}
    token = issue_token(*sorted(trigger.roles), principal=PRINCIPAL)
    return name, {**body, "feature_name": name}, actor, bearer(token)


@pytest.mark.parametrize("endpoint", TRIGGER_ENDPOINTS, ids=lambda e: e.trigger)
def test_a_trigger_naming_another_actor_than_the_principal_is_403_and_records_nothing(
    token_client, make_feature, issue_token, history, endpoint
):
    name, body, actor, headers = _request(endpoint, make_feature, issue_token)
    before = history(name)
    response = token_client.post(endpoint.path, json={**body, actor: "mallory"}, headers=headers)
    assert response.status_code == 403, response.get_json()
    assert "Acting as another principal" in response.get_json()["detail"]
    assert history(name) == before


@pytest.mark.parametrize("endpoint", TRIGGER_ENDPOINTS, ids=lambda e: e.trigger)
def test_a_trigger_without_its_actor_is_recorded_as_the_principals_and_verified(
    token_client, make_feature, issue_token, history, endpoint
):
    name, body, actor, headers = _request(endpoint, make_feature, issue_token)
    before = history(name)
    response = token_client.post(endpoint.path, json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["metadata"][actor] == PRINCIPAL
    added = history(name)[len(before) :]
    assert added and set(added) == {(PRINCIPAL, True)}
