"""Comments on features (SPEC §10): anyone with a workflow role comments on a feature in any
status; the author is the principal in token mode and a claimed name in trust mode; comments
are listed oldest first, a page at a time; a comment changes nothing else on the feature."""

import time

import pytest
from sqlalchemy import text

from feature_gateway.domain.lifecycle import Status
from tests.conftest import bearer

READ = "user_role=developer"


def comment(client, name, status=201, headers=None, **body):
    payload = {"body": "Looks good to me", "author": "carol", "user_role": "approver", **body}
    payload = {k: v for k, v in payload.items() if v is not None}
    response = client.post(f"/features/{name}/comments", json=payload, headers=headers or {})
    assert response.status_code == status, response.get_json()
    return response.get_json()


def comments(client, name, query=READ, status=200, headers=None):
    response = client.get(f"/features/{name}/comments?{query}", headers=headers or {})
    assert response.status_code == status, response.get_json()
    return response.get_json()


@pytest.fixture
def comment_rows(connection):
    def rows(name):
        result = connection.execute(
            text(
                "SELECT c.author, c.author_role, c.authenticated, c.body FROM feature_comments c"
                " JOIN features f ON f.id = c.feature_id WHERE f.feature_name = :name"
                " ORDER BY c.id"
            ),
            {"name": name},
        )
        return [(a, r, bool(auth), b) for a, r, auth, b in result]

    return rows


def test_a_comment_is_201_with_the_comment_and_listed_afterwards(client, make_feature):
    name = make_feature("READY_FOR_TESTING")["feature_name"]
    created = comment(client, name, body="Why a 7-day window?")["comment"]
    assert created == {
        "comment_id": created["comment_id"],
        "feature_name": name,
        "body": "Why a 7-day window?",
        "author": "carol",
        "author_role": "approver",
        "authenticated": False,
        "credential": None,
        "created_time": created["created_time"],
    }
    page = comments(client, name)
    assert page == {
        "feature_name": name,
        "comments": [created],
        "total_count": 1,
        "limit": 100,
        "offset": 0,
    }


def test_comments_are_listed_oldest_first_a_page_at_a_time(client, make_feature):
    name = make_feature()["feature_name"]
    for n in range(5):
        comment(client, name, body=f"comment {n}", author=f"person{n}", user_role="developer")
    everything = comments(client, name)["comments"]
    assert [c["body"] for c in everything] == [f"comment {n}" for n in range(5)]
    assert [c["comment_id"] for c in everything] == sorted(c["comment_id"] for c in everything)
    page = comments(client, name, f"{READ}&limit=2&offset=2")
    assert [c["body"] for c in page["comments"]] == ["comment 2", "comment 3"]
    assert (page["total_count"], page["limit"], page["offset"]) == (5, 2, 2)


def test_a_feature_without_comments_lists_none(client, make_feature):
    name = make_feature()["feature_name"]
    assert comments(client, name)["comments"] == []
    assert comments(client, name)["total_count"] == 0


def test_a_comment_changes_nothing_else_on_the_feature(client, make_feature):
    before = make_feature("TEST_SUCCEEDED")
    name = before["feature_name"]
    history = client.get(f"/features/{name}/history?{READ}").get_json()["history"]
    comment(client, name)
    after = client.get(f"/get_feature_metadata/{name}?{READ}")
    assert after.get_json()["metadata"] == before
    assert after.headers["ETag"] == f'"{before["revision"]}"'
    assert client.get(f"/features/{name}/history?{READ}").get_json()["history"] == history


def test_the_change_log_holds_the_comment_at_the_features_revision_and_status(
    client, make_feature
):
    feature = make_feature("READY_FOR_TESTING")
    comment(client, feature["feature_name"])
    last = client.get(f"/features/{feature['feature_name']}/changes?{READ}").get_json()["changes"][
        -1
    ]
    assert last["action"] == "comment"
    assert (last["revision"], last["fields"], last["actor"]) == (feature["revision"], {}, "carol")


@pytest.mark.parametrize("status", [s.value for s in Status if s != Status.APPROVED])
def test_a_feature_in_any_stored_status_can_be_commented_on(client, make_feature, status):
    name = make_feature(status)["feature_name"]
    comment(client, name, body=f"on a {status} feature")
    assert comments(client, name)["total_count"] == 1


def test_an_unknown_feature_is_404_for_both_operations(client):
    missing = "test_view:nobody:1"
    assert comment(client, missing, status=404)["status"] == 404
    assert comments(client, missing, status=404)["status"] == 404


def test_a_malformed_feature_name_in_the_path_is_422(client):
    comment(client, "not-a-name", status=422)
    comments(client, "not-a-name", status=422)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"body": ""}, "body"),
        ({"body": " \n\t "}, "body"),
        ({"body": "x" * 10_001}, "body"),
        ({"body": "nul \x00 inside"}, "body"),
        ({"body": None}, "body"),
        ({"author": None}, "author"),
        ({"author": " carol"}, "author"),
        ({"user_role": None}, "user_role"),
        ({"mood": "happy"}, "mood"),
    ],
    ids=["empty", "blank", "10001", "nul", "no-body", "no-author", "bad-author", "no-role",
         "unknown-field"],
)  # fmt: skip
def test_an_invalid_comment_is_422_naming_the_field_and_stores_nothing(
    client, make_feature, comment_rows, body, field
):
    name = make_feature()["feature_name"]
    problem = comment(client, name, status=422, **body)
    assert field in problem["errors"], problem
    assert comment_rows(name) == []


def test_a_body_of_exactly_10000_characters_is_kept_verbatim(client, make_feature):
    name = make_feature()["feature_name"]
    body = "  é" + "x" * 9_995 + "\n "  # 10,000 characters; white space at the ends kept
    assert len(body) == 10_000
    assert comment(client, name, body=body)["comment"]["body"] == body
    assert comments(client, name)["comments"][0]["body"] == body


@pytest.mark.parametrize("role", ["developer", "approver", "external_testing_system"])
def test_every_workflow_role_may_comment_in_trust_mode(client, make_feature, role):
    name = make_feature()["feature_name"]
    assert comment(client, name, user_role=role)["comment"]["author_role"] == role


def test_admin_cannot_be_claimed_in_trust_mode(client, make_feature):
    name = make_feature()["feature_name"]
    comment(client, name, user_role="admin", status=422)


def test_an_idempotent_replay_returns_the_comment_without_a_second_one(
    client, make_feature, comment_rows
):
    name = make_feature()["feature_name"]
    headers = {"Idempotency-Key": "comment-once"}
    first = client.post(
        f"/features/{name}/comments",
        json={"body": "once", "author": "carol", "user_role": "approver"},
        headers=headers,
    )
    again = client.post(
        f"/features/{name}/comments",
        json={"body": "once", "author": "carol", "user_role": "approver"},
        headers=headers,
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert comment_rows(name) == [("carol", "approver", False, "once")]
    other = client.post(
        f"/features/{name}/comments",
        json={"body": "twice", "author": "carol", "user_role": "approver"},
        headers=headers,
    )
    assert other.status_code == 422


# Token mode: the author is the principal.


def test_with_a_token_the_author_is_the_principal_and_verified(
    token_client, make_feature, issue_token, comment_rows
):
    name = make_feature()["feature_name"]
    token = issue_token("approver", principal="carol")
    created = token_client.post(
        f"/features/{name}/comments", json={"body": "ship it"}, headers=bearer(token)
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["comment"]["author"] == "carol"
    assert created.get_json()["comment"]["authenticated"] is True
    assert created.get_json()["comment"]["credential"] == f"token:{token.split('_')[1]}"
    assert comment_rows(name) == [("carol", "approver", True, "ship it")]


def test_with_a_token_naming_the_principal_as_author_is_accepted(
    token_client, make_feature, issue_token
):
    name = make_feature()["feature_name"]
    headers = bearer(issue_token("developer", principal="carol"))
    body = {"body": "hi", "author": "Carol", "user_role": "developer"}
    created = token_client.post(f"/features/{name}/comments", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["comment"]["author"] == "carol"


def test_with_a_token_naming_someone_else_as_author_is_403_and_stores_nothing(
    token_client, make_feature, issue_token, comment_rows
):
    name = make_feature()["feature_name"]
    headers = bearer(issue_token("developer", principal="carol"))
    refused = token_client.post(
        f"/features/{name}/comments", json={"body": "hi", "author": "mallory"}, headers=headers
    )
    assert refused.status_code == 403, refused.get_json()
    assert "Acting as another principal" in refused.get_json()["detail"]
    assert comment_rows(name) == []


def test_with_a_token_admin_may_read_comments_but_not_write_them(
    token_client, make_feature, issue_token, comment_rows
):
    name = make_feature()["feature_name"]
    headers = bearer(issue_token("admin", principal="root"))
    refused = token_client.post(f"/features/{name}/comments", json={"body": "hi"}, headers=headers)
    assert refused.status_code == 403, refused.get_json()
    assert comment_rows(name) == []
    listed = token_client.get(f"/features/{name}/comments", headers=headers)
    assert listed.status_code == 200


def test_with_a_token_a_role_the_token_lacks_is_403(token_client, make_feature, issue_token):
    name = make_feature()["feature_name"]
    headers = bearer(issue_token("developer", principal="carol"))
    refused = token_client.post(
        f"/features/{name}/comments", json={"body": "hi", "user_role": "approver"}, headers=headers
    )
    assert refused.status_code == 403


def test_with_a_token_a_comment_without_a_token_is_401(token_client, make_feature):
    name = make_feature()["feature_name"]
    response = token_client.post(f"/features/{name}/comments", json={"body": "hi"})
    assert response.status_code == 401
    assert token_client.get(f"/features/{name}/comments").status_code == 401


def test_what_was_served_before_a_comment_is_the_feature_as_it_is(client, make_feature):
    deployed = make_feature("DEPLOYED")
    time.sleep(0.005)
    before_comment = int(time.time() * 1000)
    time.sleep(0.005)
    comment(client, deployed["feature_name"])
    served = client.get(f"/get_deployed_features?{READ}&at={before_comment}").get_json()
    (then,) = [f for f in served["features"] if f["feature_name"] == deployed["feature_name"]]
    assert then == deployed  # a comment is never undone: it changed nothing


def test_only_the_read_of_comments_documents_x_read_after(client):
    """The two share a path: the replica's header belongs to the GET alone."""
    item = client.get("/openapi.json").get_json()["paths"]["/features/{feature_name}/comments"]

    def headers(operation):
        return {p["name"] for p in [*item.get("parameters", []), *operation.get("parameters", [])]
                if p.get("in") == "header"}  # fmt: skip

    assert "X-Read-After" in headers(item["get"])
    assert "X-Read-After" not in headers(item["post"])
    assert "Idempotency-Key" in headers(item["post"])
