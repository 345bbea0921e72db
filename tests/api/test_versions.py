"""Versions: GET /features/<name>/versions and POST /create_feature_version."""

import pytest


def new_version(client, source, **fields):
    body = {"feature_name": source, "created_by": "ann", "user_role": "developer", **fields}
    return client.post("/create_feature_version", json=body)


def test_a_new_version_is_a_draft_numbered_after_the_highest_copying_the_source(
    client, make_feature, audit_rows
):
    source = make_feature("DEPLOYED", owner="pricing", tags={"team": "pricing"})
    response = new_version(client, source["feature_name"], query="SELECT 2")
    assert response.status_code == 201
    assert response.headers["ETag"] == '"1"'
    metadata = response.get_json()["metadata"]
    family = source["feature_name"].rsplit(":", 1)[0]
    assert metadata["feature_name"] == f"{family}:2"
    assert metadata["status"] == "DRAFT"
    assert metadata["previous_version"] == source["feature_name"]
    assert metadata["query"] == "SELECT 2"
    for copied in ("feature_type", "feature_data_type", "description", "owner", "tags"):
        assert metadata[copied] == source[copied], copied
    assert (metadata["created_by"], metadata["last_updated_by"]) == ("ann", "ann")
    assert metadata["approved_by"] is None and metadata["revision"] == 1
    assert audit_rows(metadata["feature_name"]) == [{
        "from_status": None, "to_status": "DRAFT", "trigger": "create", "actor": "ann",
        "actor_role": "developer", "reason": f"new version of {source['feature_name']}",
    }]  # fmt: skip


def test_the_number_follows_the_highest_version_whichever_is_copied(client, make_feature):
    first = make_feature()["feature_name"]
    family = first.rsplit(":", 1)[0]
    assert new_version(client, first).get_json()["metadata"]["feature_name"] == f"{family}:2"
    third = new_version(client, first).get_json()["metadata"]
    assert third["feature_name"] == f"{family}:3"
    assert third["previous_version"] == first


def test_any_status_may_be_the_source_and_given_fields_replace_copied_ones(client, make_feature):
    for status in ("DELETED", "RETIRED", "TEST_FAILED"):
        source = make_feature(status)
        response = new_version(client, source["feature_name"], owner="new-team",
                               tags={"x": "1"}, feature_type="real-time",
                               feature_data_type="string", description="v2")  # fmt: skip
        assert response.status_code == 201, response.get_json()
        metadata = response.get_json()["metadata"]
        assert (metadata["owner"], metadata["tags"], metadata["feature_type"],
                metadata["feature_data_type"], metadata["description"]) == (
            "new-team", {"x": "1"}, "real-time", "string", "v2")  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"feature_name": "nope:nothing:1"}, 404, None),
        ({"query": "DROP TABLE features"}, 422, "query"),
        ({"tags": {"Bad": "x"}}, 422, "tags"),
        ({"status": "DEPLOYED"}, 422, "status"),
        ({"created_by": None}, 422, "created_by"),
        ({"user_role": "approver"}, 403, None),
    ],
)
def test_a_new_version_is_refused_for_a_bad_request(client, make_feature, fields, status, error):
    source = make_feature()["feature_name"]
    response = new_version(client, source, **fields)
    assert response.status_code == status, response.get_json()
    if error:
        assert error in response.get_json()["errors"]
    versions = client.get(f"/features/{source}/versions?user_role=developer").get_json()
    assert [v["feature_name"] for v in versions["versions"]] == [source]


def test_versions_lists_every_version_by_number_in_any_status(client, make_feature):
    first = make_feature("DEPLOYED")["feature_name"]
    family = first.rsplit(":", 1)[0]
    second = new_version(client, first).get_json()["metadata"]["feature_name"]
    client.post("/delete_feature_metadata", json={
        "feature_name": second, "deleted_by": "ann", "deletion_reason": "wrong",
        "user_role": "developer",
    })  # fmt: skip
    tenth = f"{family}:v10"
    make_feature(feature_name=tenth)
    response = client.get(f"/features/{family}:7/versions?user_role=approver")
    assert response.status_code == 200
    body = response.get_json()
    assert body["feature"] == family
    assert [(v["feature_name"], v["status"]) for v in body["versions"]] == [
        (first, "DEPLOYED"),
        (second, "DELETED"),
        (tenth, "DRAFT"),
    ]
    assert new_version(client, first).get_json()["metadata"]["feature_name"] == f"{family}:11"


def test_versions_of_an_unknown_feature_is_404(client):
    response = client.get("/features/nope:nothing:1/versions?user_role=developer")
    assert response.status_code == 404
    assert response.get_json()["detail"] == "Feature 'nope:nothing' does not exist."


def test_versions_need_a_valid_name_and_role(client):
    assert client.get("/features/nope/versions?user_role=developer").status_code == 422
    assert client.get("/features/a:b:1/versions").status_code == 422


def test_versions_of_any_number_size_are_ordered_and_continued(client, make_feature):
    huge = 10**200
    make_feature(feature_name=f"big:number:{huge}")
    make_feature(feature_name="big:number:3")
    response = new_version(client, "big:number:3")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["metadata"]["feature_name"] == f"big:number:{huge + 1}"
    listed = client.get("/features/big:number:1/versions?user_role=developer").get_json()
    assert [v["feature_name"] for v in listed["versions"]] == [
        "big:number:3", f"big:number:{huge}", f"big:number:{huge + 1}"
    ]  # fmt: skip


def test_a_version_number_with_no_room_for_a_successor_is_409(client, make_feature):
    family = "v:" + "f" * 200
    top = f"{family}:{10 ** (254 - len(family)) - 1}"
    assert len(top) == 255
    make_feature(feature_name=top)
    response = new_version(client, top)
    assert response.status_code == 409
    assert "no higher version number fits" in response.get_json()["detail"]
