"""GET /features/<name>/diff: the definition fields that differ, and a unified query diff."""


def diff(client, name, against=None):
    query = f"&against={against}" if against else ""
    return client.get(f"/features/{name}/diff?user_role=approver{query}")


def test_a_version_is_compared_with_its_previous_version_by_default(client, make_feature):
    source = make_feature(query="SELECT a\nFROM t\nWHERE id = ?", tags={"team": "x"})
    new = client.post("/create_feature_version", json={
        "feature_name": source["feature_name"], "created_by": "ann", "user_role": "developer",
        "query": "SELECT a, b\nFROM t\nWHERE id = ?", "owner": "team-b",
    }).get_json()["metadata"]  # fmt: skip
    response = diff(client, new["feature_name"])
    assert response.status_code == 200
    assert response.get_json() == {
        "feature_name": new["feature_name"],
        "against": source["feature_name"],
        "fields": {
            "query": {"from": source["query"], "to": new["query"]},
            "owner": {"from": "dev", "to": "team-b"},
        },
        "query_diff": f"--- {source['feature_name']}\n+++ {new['feature_name']}\n"
        "@@ -1,3 +1,3 @@\n-SELECT a\n+SELECT a, b\n FROM t\n WHERE id = ?\n",
    }


def test_any_two_features_may_be_compared(client, make_feature):
    one = make_feature(feature_type="real-time", tags={"a": "1"})
    other = make_feature(feature_data_type="string")
    body = diff(client, one["feature_name"], other["feature_name"]).get_json()
    assert body["against"] == other["feature_name"]
    assert body["fields"] == {
        "feature_type": {"from": "batch", "to": "real-time"},
        "feature_data_type": {"from": "string", "to": "float"},
        "tags": {"from": {}, "to": {"a": "1"}},
    }
    assert body["query_diff"] == ""


def test_a_feature_compared_with_itself_has_no_differences(client, make_feature):
    name = make_feature()["feature_name"]
    body = diff(client, name, name).get_json()
    assert (body["fields"], body["query_diff"]) == ({}, "")


def test_without_against_or_a_previous_version_the_diff_is_422(client, make_feature):
    response = diff(client, make_feature()["feature_name"])
    assert response.status_code == 422
    assert "was not made from another version" in response.get_json()["errors"]["against"][0]


def test_an_unknown_feature_on_either_side_is_404(client, make_feature):
    name = make_feature()["feature_name"]
    assert diff(client, "nope:nothing:1", name).status_code == 404
    response = diff(client, name, "nope:nothing:1")
    assert response.status_code == 404
    assert "nope:nothing:1" in response.get_json()["detail"]


def test_a_malformed_against_is_422(client, make_feature):
    response = diff(client, make_feature()["feature_name"], "not-a-name")
    assert response.status_code == 422
    assert "against" in response.get_json()["errors"]
