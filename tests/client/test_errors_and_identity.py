"""Typed errors from the service's problem+json answers, and who the client acts as: a
token, a source of fresh tokens (a JWT callable), or trust mode's claimed role and name."""

from __future__ import annotations

import pytest

from feature_gateway_client import (
    AlreadyExists,
    ConcurrentModification,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    Ownership,
    SeparationOfDuties,
    Unauthorized,
    ValidationError,
)
from feature_gateway_client.client import Client
from feature_gateway_client.errors import error_for
from tests.client.support import Service

PROBLEM = "urn:feature-gateway:problem:"


def _new(client: Client, name: str) -> int:
    return client.create_feature_metadata(
        feature_name=name, feature_type="batch", feature_data_type="integer",
        query="SELECT a FROM t", description="errors",
    ).metadata.revision  # fmt: skip


def test_problems_become_typed_errors_carrying_status_type_and_detail(service: Service):
    dev = Client(service.url, role="developer", actor="dev")
    name = "client_errors:typed:1"
    _new(dev, name)
    with pytest.raises(NotFound) as missing:
        dev.feature_history(feature_name="client_errors:none:1")
    assert (missing.value.status, missing.value.type) == (404, PROBLEM + "feature-not-found")
    assert missing.value.detail == "Feature 'client_errors:none:1' does not exist."
    with pytest.raises(AlreadyExists) as taken:
        _new(dev, name)
    assert isinstance(taken.value, Conflict) and taken.value.status == 409
    with pytest.raises(InvalidTransition) as wrong_state:
        dev.fix_feature_metadata(feature_name=name, fix_description="nothing to fix")
    assert "in status DRAFT" in wrong_state.value.detail
    with pytest.raises(ValidationError) as invalid:
        dev.create_feature_metadata(feature_name="no colons", feature_type="batch",
                                    feature_data_type="integer", query="DELETE FROM t",
                                    description="x")  # fmt: skip
    assert set(invalid.value.errors) == {"feature_name", "query"} and invalid.value.status == 422


def test_a_stale_if_match_is_a_concurrent_modification_and_changes_nothing(service: Service):
    dev = Client(service.url, role="developer", actor="dev")
    name = "client_errors:stale:1"
    _new(dev, name)
    read = dev.get_feature_metadata_by_path(feature_name=name)
    dev.update_feature_metadata(feature_name=name, description="someone else's edit")
    with pytest.raises(ConcurrentModification) as stale:
        dev.update_feature_metadata(feature_name=name, query="SELECT b FROM t",
                                    if_match=read.metadata)  # fmt: skip
    assert "revision 2, not 1" in stale.value.detail
    assert dev.get_feature_metadata_by_path(feature_name=name).metadata.query == "SELECT a FROM t"


def test_separation_of_duties_is_its_own_403_apart_from_a_role_refusal(service: Service):
    dev = Client(service.url, role="developer", actor="alice")
    name = "client_errors:duties:1"
    _new(dev, name)
    dev.ready_test_feature_metadata(feature_name=name)
    as_tester = dev.acting_as(role="external_testing_system", actor="alice")
    with pytest.raises(SeparationOfDuties) as duties:
        as_tester.test_feature_metadata(feature_name=name, test_result="TEST_SUCCEEDED")
    assert duties.value.status == 403 and duties.value.type == PROBLEM + "separation-of-duties"
    assert duties.value.detail.startswith("Separation of duties: alice created this feature")
    with pytest.raises(Forbidden) as role:
        dev.acting_as(role="developer", actor="bob").test_feature_metadata(
            feature_name=name, test_result="TEST_SUCCEEDED"
        )
    assert not isinstance(role.value, SeparationOfDuties) and role.value.status == 403


def test_an_ownership_refusal_is_its_own_403():
    detail = "Ownership: v:f:1 is owned by growth; alice is not a member of growth."
    problem = {"type": PROBLEM + "ownership", "title": "Ownership", "detail": detail}
    refused = error_for(403, problem)
    assert isinstance(refused, Ownership) and isinstance(refused, Forbidden)
    assert not isinstance(refused, SeparationOfDuties) and refused.detail == detail


def test_trust_mode_fills_the_role_and_the_actor_field_of_each_write(service: Service):
    carol = Client(service.url, role="developer", actor="carol")
    name = "client_errors:claimed:1"
    _new(carol, name)
    stored = carol.get_feature_metadata_by_path(feature_name=name).metadata
    assert (stored.created_by, stored.owner, stored.last_updated_by) == ("carol",) * 3
    (entry,) = carol.feature_history(feature_name=name).history
    assert (entry.actor, entry.actor_role) == ("carol", "developer")
    explicit = carol.update_feature_metadata(feature_name=name, description="by dave",
                                             last_updated_by="dave")  # fmt: skip
    assert explicit.metadata.last_updated_by == "dave"  # what the call gives wins


def test_a_token_authenticates_and_a_bad_one_is_unauthorized(token_service: Service):
    developer = Client(token_service.url, token=token_service.token("erin", "developer"))
    name = "client_errors:token:1"
    _new(developer, name)
    assert developer.get_feature_metadata_by_path(feature_name=name).metadata.created_by == "erin"
    with pytest.raises(Unauthorized) as refused:
        Client(token_service.url, token="fmg_0000000000000000_nope").list_events()
    assert refused.value.status == 401


def test_a_token_source_is_asked_per_request_and_again_after_a_401(token_service: Service):
    """As a JWT callable would be: the first token it gives has been revoked meanwhile."""
    admin = Client(token_service.url, token=token_service.token("root", "admin"))
    stale = admin.create_token(principal="frank", roles=["developer"])
    admin.revoke_token(token_id=stale.metadata.token_id)
    fresh = token_service.token("frank", "developer")
    given: list[str] = []

    def source() -> str:
        given.append(stale.token if not given else fresh)
        return given[-1]

    client = Client(token_service.url, token=source)
    assert client.list_events(limit=1).events is not None
    assert given == [stale.token, fresh]
    client.list_events(limit=1)
    assert len(given) == 3  # asked for every request: it decides when to refresh
