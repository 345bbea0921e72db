"""ETag / If-Match: a client that read revision N changes the feature only if it still is."""

import pytest


def read(client, name):
    return client.get(f"/get_feature_metadata/{name}?user_role=developer")


def update(client, name, if_match=None, **fields):
    headers = {} if if_match is None else {"If-Match": if_match}
    body = {"feature_name": name, "last_updated_by": "dev", "user_role": "developer", **fields}
    return client.post("/update_feature_metadata", json=body, headers=headers)


def test_reads_and_writes_send_the_revision_as_etag(client, make_feature):
    name = make_feature()["feature_name"]
    assert read(client, name).headers["ETag"] == '"1"'
    by_post = client.post(
        "/get_feature_metadata", json={"feature_name": name, "user_role": "approver"}
    )
    assert by_post.headers["ETag"] == '"1"'
    assert update(client, name, description="v2").headers["ETag"] == '"2"'


def test_a_write_with_the_current_etag_succeeds(client, make_feature):
    name = make_feature()["feature_name"]
    etag = read(client, name).headers["ETag"]
    response = update(client, name, if_match=etag, description="edited")
    assert response.status_code == 200
    assert response.get_json()["metadata"]["revision"] == 2


def test_a_write_with_a_stale_etag_conflicts_and_changes_nothing(client, make_feature, audit_rows):
    name = make_feature("TEST_SUCCEEDED")["feature_name"]
    stale = read(client, name).headers["ETag"]
    assert update(client, name, description="someone else's edit").status_code == 200
    before = audit_rows(name)

    response = update(client, name, if_match=stale, query="SELECT 2")
    assert response.status_code == 409
    assert "revision 4, not 3" in response.get_json()["detail"]
    approve = client.post(
        "/approve_feature_metadata",
        json={"feature_name": name, "approved_by": "boss", "user_role": "approver"},
        headers={"If-Match": stale},
    )
    assert approve.status_code == 409
    stored = read(client, name).get_json()["metadata"]
    assert (stored["status"], stored["query"]) == (
        "TEST_SUCCEEDED",
        "SELECT conv_rate FROM " "driver_hourly_stats WHERE driver_id = ?",
    )
    assert audit_rows(name) == before


@pytest.mark.parametrize("if_match", ["*", 'W/"1"', "1", '"7", "1"'])
def test_any_revision_and_weak_etags_are_understood(client, make_feature, if_match):
    name = make_feature()["feature_name"]
    assert update(client, name, if_match=if_match, description="ok").status_code == 200


@pytest.mark.parametrize("if_match", ['"abc"', '"1', "-1", '"' + "9" * 19 + '"'])
def test_a_malformed_if_match_is_422(client, make_feature, if_match):
    name = make_feature()["feature_name"]
    response = update(client, name, if_match=if_match, description="x")
    assert response.status_code == 422
    assert "If-Match" in response.get_json()["errors"]
