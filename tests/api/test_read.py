import pytest

from tests.conftest import SEED_FEATURE


def names(response):
    assert response.status_code == 200, response.get_json()
    return [m["feature_name"] for m in response.get_json()["metadata"]]


def test_get_by_name_over_post_and_get_return_the_same_metadata(client, make_feature):
    feature = make_feature("TEST_SUCCEEDED")
    by_post = client.post(
        "/get_feature_metadata",
        json={"feature_name": feature["feature_name"], "user_role": "developer"},
    )
    by_get = client.get(f"/get_feature_metadata/{feature['feature_name']}?user_role=developer")
    assert by_post.status_code == by_get.status_code == 200
    assert by_post.get_json() == by_get.get_json() == {"metadata": feature}


def test_an_unknown_feature_is_404(client):
    response = client.get("/get_feature_metadata/nope:nothing:1?user_role=developer")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "Feature 'nope:nothing:1' does not exist."


def test_a_malformed_name_in_the_path_is_422(client):
    response = client.get("/get_feature_metadata/not-a-name?user_role=developer")
    assert response.status_code == 422
    assert "feature_name" in response.get_json()["errors"]


@pytest.fixture
def catalogue(make_feature):
    return {
        "draft": make_feature("DRAFT", feature_type="real-time", created_by="ann",
                              description="Trips per hour (100% complete_data)"),
        "deployed": make_feature("DEPLOYED", feature_data_type="integer"),
        "failed": make_feature("TEST_FAILED", description="Average speed"),
        "deleted": make_feature("DELETED"),
    }  # fmt: skip


def test_the_list_hides_deleted_features_by_default(client, catalogue):
    listed = names(client.get("/get_all_feature_metadata?user_role=developer"))
    assert catalogue["deleted"]["feature_name"] not in listed
    assert len(listed) == 3
    with_deleted = names(
        client.get("/get_all_feature_metadata?user_role=developer&include_deleted=true")
    )
    assert len(with_deleted) == 4
    only_deleted = names(client.post(
        "/get_all_feature_metadata", json={"user_role": "developer", "status": "DELETED"}
    ))  # fmt: skip
    assert only_deleted == [catalogue["deleted"]["feature_name"]]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "DEPLOYED"}, ["deployed"]),
        ({"feature_type": "real-time"}, ["draft"]),
        ({"feature_data_type": "integer"}, ["deployed"]),
        ({"created_by": "ann"}, ["draft"]),
        ({"search": "AVERAGE"}, ["failed"]),
        ({"search": "100%"}, ["draft"]),
        ({"search": "e_d"}, ["draft"]),
        ({"search": "0%_"}, []),
        ({"search": "'; DROP TABLE features; --"}, []),
        ({"status": "DRAFT", "feature_type": "batch"}, []),
    ],
)
def test_list_filters_combine(client, catalogue, filters, expected):
    listed = names(
        client.post("/get_all_feature_metadata", json={"user_role": "approver", **filters})
    )
    assert listed == sorted(catalogue[key]["feature_name"] for key in expected)


def test_a_search_folds_case_beyond_ascii(client, make_feature):
    wanted = make_feature(description="Ärger über Straßen")["feature_name"]
    make_feature(description="nothing to see")
    listed = names(client.post(
        "/get_all_feature_metadata", json={"user_role": "developer", "search": "äRGER ÜBER"}
    ))  # fmt: skip
    assert listed == [wanted]


def test_a_search_matches_the_name_case_insensitively(client, catalogue):
    target = catalogue["failed"]["feature_name"].upper()
    listed = names(client.get(f"/get_all_feature_metadata?user_role=developer&search={target}"))
    assert listed == [catalogue["failed"]["feature_name"]]


def test_pages_report_the_total_count_of_all_matches(client, make_feature):
    created = sorted(make_feature()["feature_name"] for _ in range(5))
    first = client.get("/get_all_feature_metadata?user_role=developer&limit=2").get_json()
    second = client.get(
        "/get_all_feature_metadata?user_role=developer&limit=2&offset=2"
    ).get_json()
    assert (first["total_count"], first["limit"], first["offset"]) == (5, 2, 0)
    assert (second["total_count"], second["offset"]) == (5, 2)
    paged = [m["feature_name"] for m in first["metadata"] + second["metadata"]]
    assert paged == created[:4]


def test_a_page_past_the_last_match_is_empty_and_still_counts_every_match(client, make_feature):
    for _ in range(3):
        make_feature()
    body = client.get("/get_all_feature_metadata?user_role=developer&offset=7").get_json()
    assert (body["metadata"], body["total_count"], body["offset"]) == ([], 3, 7)
    none = client.get("/get_all_feature_metadata?user_role=developer&created_by=nobody")
    assert (none.get_json()["metadata"], none.get_json()["total_count"]) == ([], 0)


def test_lists_of_the_same_shape_with_other_values_answer_for_their_own_values(
    client, make_feature
):
    # Same filters, other values: the statement compiled for the first must take the
    # second's values, not keep the first's.
    by_owner = {owner: make_feature(created_by=owner)["feature_name"] for owner in ("ann", "bo")}
    make_feature(feature_type="real-time")
    for owner, name in [*by_owner.items(), *reversed(by_owner.items())]:
        listed = names(
            client.get(f"/get_all_feature_metadata?user_role=developer&created_by={owner}")
        )
        assert listed == [name]
    for wanted in ("real-time", "batch", "real-time"):
        listed = client.get(f"/get_all_feature_metadata?user_role=developer&feature_type={wanted}")
        assert {m["feature_type"] for m in listed.get_json()["metadata"]} == {wanted}


def test_sorting_by_creation_time_descending_puts_the_newest_first(client, make_feature):
    created = [make_feature()["feature_name"] for _ in range(3)]
    listed = names(client.get("/get_all_feature_metadata?user_role=developer&sort=-created_time"))
    assert listed == list(reversed(created))
    listed = names(client.get("/get_all_feature_metadata?user_role=developer&sort=-feature_name"))
    assert listed == sorted(created, reverse=True)


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "limit=ten", "offset=-1", "sort=status", "status=LIVE",
     "feature_type=stream", "feature_data_type=text", "include_deleted=maybe", "colour=red"],
)  # fmt: skip
def test_invalid_list_parameters_are_422(client, query):
    response = client.get(f"/get_all_feature_metadata?user_role=developer&{query}")
    assert response.status_code == 422
    assert query.split("=")[0] in response.get_json()["errors"]


def test_deployed_features_are_listed_with_their_count(client, catalogue, make_feature):
    second = make_feature("DEPLOYED")
    body = client.get("/get_deployed_features?user_role=developer").get_json()
    assert body["total_count"] == 2
    assert [f["feature_name"] for f in body["features"]] == sorted(
        [catalogue["deployed"]["feature_name"], second["feature_name"]]
    )
    assert all(f["status"] == "DEPLOYED" for f in body["features"])


def test_history_is_served_over_get_and_post_oldest_first(client, make_feature):
    name = make_feature("REJECTED")["feature_name"]
    by_get = client.get(f"/features/{name}/history", headers={"X-User-Role": "approver"})
    by_post = client.post(
        "/get_feature_history", json={"feature_name": name, "user_role": "developer"}
    )
    assert by_get.get_json() == by_post.get_json()
    history = by_get.get_json()
    assert history["feature_name"] == name
    assert [h["trigger"] for h in history["history"]] == ["create", "submit", "test", "reject"]
    assert history["history"][-1]["reason"] == "not useful"
    assert history["history"][-1]["actor_role"] == "approver"
    stamps = [h["timestamp"] for h in history["history"]]
    assert stamps == sorted(stamps)


def test_history_of_an_unknown_feature_is_404(client):
    response = client.get("/features/nope:nothing:1/history?user_role=developer")
    assert response.status_code == 404


def test_reads_change_nothing(client):
    client.post("/create_feature_metadata", json=SEED_FEATURE)
    path = f"/get_feature_metadata/{SEED_FEATURE['feature_name']}?user_role=developer"
    first = client.get(path).get_json()
    client.get("/get_all_feature_metadata?user_role=developer")
    assert client.get(path).get_json() == first


@pytest.mark.parametrize(
    "path", ["/features/available?limit=3", "/get_deployed_features?user_role=developer&x=1",
             "/get_feature_metadata/a:b:1?user_role=developer&verbose=1"],
)  # fmt: skip
def test_unknown_query_parameters_are_422(client, path):
    response = client.get(path)
    assert response.status_code == 422
    assert path.rsplit("&", 1)[-1].split("?")[-1].split("=")[0] in response.get_json()["errors"]


def test_deployed_features_come_in_one_page_of_up_to_1000_by_default(client, make_feature):
    make_feature("DEPLOYED")
    body = client.get("/get_deployed_features?user_role=developer").get_json()
    assert (body["limit"], body["offset"], body["total_count"]) == (1000, 0, 1)


def test_a_query_parameter_given_twice_is_422(client):
    response = client.get(
        "/get_all_feature_metadata?user_role=developer&status=DRAFT&status=DEPLOYED"
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"status": ["Give this parameter once."]}


def test_a_parameter_named_unlike_its_field_given_twice_is_422_not_half_read(client):
    # ``tag`` fills the field ``tags``; its second value must not be silently dropped.
    response = client.get("/get_all_feature_metadata?user_role=developer&tag=team:x&tag=env:y")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"tag": ["Give this parameter once."]}
