"""owner and tags: defaults, validation, update, the tag index rows behind them."""

import pytest
from sqlalchemy import text

from tests.conftest import SEED_FEATURE


@pytest.fixture
def tag_rows(connection):
    def rows(feature_name):
        result = connection.execute(
            text(
                "SELECT t.key, t.value FROM feature_tags t JOIN features f ON f.id = t.feature_id"
                " WHERE f.feature_name = :name ORDER BY t.key"
            ),
            {"name": feature_name},
        )
        return dict(result.all())

    return rows


def test_owner_defaults_to_the_creator_and_tags_to_none(client):
    metadata = client.post("/create_feature_metadata", json=SEED_FEATURE).get_json()["metadata"]
    assert metadata["owner"] == SEED_FEATURE["created_by"]
    assert metadata["tags"] == {}
    assert metadata["previous_version"] is None


def test_owner_and_tags_given_at_creation_are_stored_and_indexed(client, tag_rows):
    tags = {"team": "pricing", "pii.level": "", "cost-center": "42:a"}
    body = {**SEED_FEATURE, "owner": "pricing-team", "tags": tags}
    metadata = client.post("/create_feature_metadata", json=body).get_json()["metadata"]
    assert (metadata["owner"], metadata["tags"]) == ("pricing-team", tags)
    assert tag_rows(SEED_FEATURE["feature_name"]) == tags
    read = client.get(f"/get_feature_metadata/{SEED_FEATURE['feature_name']}?user_role=approver")
    assert read.get_json()["metadata"]["tags"] == tags


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({"Team": "x"}, "Invalid tag key 'Team'"),
        ({"9lives": "x"}, "Invalid tag key '9lives'"),
        ({"k" * 64: "x"}, "Invalid tag key"),
        ({"team": "x" * 256}, "Longer than 255 characters"),
        ({"team": "a\u0000b"}, "Contains NUL"),
        ({"team": 7}, "Not a string"),
        ({"team": None}, "Not a string"),
        ({f"k{i}": "v" for i in range(21)}, "At most 20 tags; got 21."),
        (["team"], "Not a valid mapping type."),
    ],
)
def test_invalid_tags_are_refused_with_the_rule_they_break(client, tags, message):
    response = client.post("/create_feature_metadata", json={**SEED_FEATURE, "tags": tags})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert any(message in m for m in response.get_json()["errors"]["tags"]), response.get_json()
    assert (
        client.get(
            f"/get_feature_metadata/{SEED_FEATURE['feature_name']}?user_role=developer"
        ).status_code
        == 404
    )


@pytest.mark.parametrize("owner", ["", "   ", "x" * 256, "a\u0000"])
def test_an_owner_follows_the_actor_name_rule(client, owner):
    response = client.post("/create_feature_metadata", json={**SEED_FEATURE, "owner": owner})
    assert response.status_code == 422
    assert "owner" in response.get_json()["errors"]


def test_update_replaces_the_whole_tag_object_and_reindexes_it(client, make_feature, tag_rows):
    feature = make_feature("TEST_SUCCEEDED", tags={"team": "a", "tier": "gold"})
    response = client.post("/update_feature_metadata", json={
        "feature_name": feature["feature_name"], "tags": {"team": "b"},
        "last_updated_by": "ann", "user_role": "developer",
    })  # fmt: skip
    metadata = response.get_json()["metadata"]
    assert metadata["tags"] == {"team": "b"}
    assert tag_rows(feature["feature_name"]) == {"team": "b"}
    # Not critical: the tested feature stays tested.
    assert metadata["status"] == "TEST_SUCCEEDED"
    assert metadata["revision"] == feature["revision"] + 1


def test_owner_is_editable_in_every_editable_state_without_a_reset(client, make_feature):
    for status in ("DRAFT", "READY_FOR_TESTING", "TEST_FAILED", "REJECTED"):
        feature = make_feature(status)
        response = client.post("/update_feature_metadata", json={
            "feature_name": feature["feature_name"], "owner": "new-team",
            "last_updated_by": "ann", "user_role": "developer",
        })  # fmt: skip
        assert response.status_code == 200
        assert response.get_json()["metadata"]["owner"] == "new-team"
        assert response.get_json()["metadata"]["status"] == status


@pytest.mark.parametrize("status", ["DEPLOYED", "DEPRECATED", "RETIRED", "DELETED"])
def test_owner_and_tags_of_a_terminal_feature_cannot_change(client, make_feature, status):
    feature = make_feature(status)
    response = client.post("/update_feature_metadata", json={
        "feature_name": feature["feature_name"], "tags": {"team": "x"},
        "last_updated_by": "ann", "user_role": "developer",
    })  # fmt: skip
    assert response.status_code == 409


def test_sending_the_same_tags_again_is_no_change(client, make_feature):
    feature = make_feature(tags={"team": "a"})
    response = client.post("/update_feature_metadata", json={
        "feature_name": feature["feature_name"], "tags": {"team": "a"},
        "last_updated_by": "ann", "user_role": "developer",
    })  # fmt: skip
    assert response.get_json()["metadata"]["revision"] == feature["revision"]
