import pytest

from tests.conftest import SEED_FEATURE

ROW_FIELDS = {
    "feature_name", "feature_type", "feature_data_type", "query", "description", "status",
    "revision", "created_time", "updated_time", "created_by", "last_updated_by",
    "submitted_by", "submitted_time", "tested_by", "tested_time", "test_result", "test_notes",
    "approved_by", "approved_time", "approval_notes", "rejected_by", "rejected_time",
    "rejection_reason", "deployed_by", "deployed_time", "fixed_by", "fixed_time",
    "fix_description", "deleted_by", "deleted_time", "deletion_reason",
    "owner", "tags", "previous_version", "deprecated_by", "deprecated_time",
    "deprecation_reason", "replaced_by", "retired_by", "retired_time", "retirement_reason",
    "retirement_forced",
}  # fmt: skip


def test_creating_returns_201_with_every_field_of_the_row(client):
    response = client.post("/create_feature_metadata", json=SEED_FEATURE)
    assert response.status_code == 201
    body = response.get_json()
    assert body["message"] == "Feature created successfully"
    metadata = body["metadata"]
    assert set(metadata) == ROW_FIELDS
    assert metadata["status"] == "DRAFT"
    assert metadata["revision"] == 1
    assert metadata["created_by"] == "dev"
    assert metadata["approved_by"] is None
    assert isinstance(metadata["created_time"], int)
    assert metadata["created_time"] > 1_700_000_000_000  # epoch milliseconds
    assert metadata["query"] == SEED_FEATURE["query"]


def test_creating_writes_one_audit_row_from_nothing_to_draft(client, audit_rows):
    client.post("/create_feature_metadata", json=SEED_FEATURE)
    assert audit_rows(SEED_FEATURE["feature_name"]) == [
        {
            "from_status": None,
            "to_status": "DRAFT",
            "trigger": "create",
            "actor": "dev",
            "actor_role": "developer",
            "reason": None,
        }
    ]


def test_creating_a_name_twice_conflicts(client):
    client.post("/create_feature_metadata", json=SEED_FEATURE)
    response = client.post("/create_feature_metadata", json=SEED_FEATURE)
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert "already exists" in response.get_json()["detail"]


def test_a_deleted_name_cannot_be_created_again(client, make_feature):
    deleted = make_feature("DELETED")
    response = client.post(
        "/create_feature_metadata", json={**SEED_FEATURE, "feature_name": deleted["feature_name"]}
    )
    assert response.status_code == 409
    assert "new version" in response.get_json()["detail"]


def test_a_new_version_of_a_deleted_feature_can_be_created(client, make_feature):
    deleted = make_feature("DELETED")
    view, feature, _ = deleted["feature_name"].split(":")
    response = client.post(
        "/create_feature_metadata", json={**SEED_FEATURE, "feature_name": f"{view}:{feature}:v2"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("feature_name", "not a name"),
        ("feature_name", "view:feature:0"),
        ("feature_name", "a" * 252 + ":b:1"),
        ("feature_name", 42),
        ("feature_type", "streaming"),
        ("feature_data_type", "complex"),
        ("query", "DROP TABLE driver_hourly_stats"),
        ("query", "SELECT 1; SELECT 2"),
        ("query", "SELECT " + "x" * 100_000),
        ("description", "   "),
        ("description", "d" * 10_001),
        ("created_by", ""),
        ("created_by", "c" * 256),
        ("created_by", None),
    ],
)
def test_invalid_fields_are_rejected_with_422_naming_the_field(client, field, value):
    response = client.post("/create_feature_metadata", json={**SEED_FEATURE, field: value})
    assert response.status_code == 422
    body = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert set(body["errors"]) == {field}
    assert field in body["detail"]


@pytest.mark.parametrize(
    "field", ["feature_name", "feature_type", "feature_data_type", "query", "description",
              "created_by"]
)  # fmt: skip
def test_every_definition_field_is_required(client, field):
    body = {k: v for k, v in SEED_FEATURE.items() if k != field}
    response = client.post("/create_feature_metadata", json=body)
    assert response.status_code == 422
    assert "Missing data" in response.get_json()["errors"][field][0]


def test_unknown_fields_are_rejected(client):
    response = client.post("/create_feature_metadata", json={**SEED_FEATURE, "colour": "x"})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"colour": ["Unknown field."]}


def test_status_cannot_be_chosen_at_creation(client):
    response = client.post("/create_feature_metadata", json={**SEED_FEATURE, "status": "DEPLOYED"})
    assert response.status_code == 422


def test_the_query_rejection_says_why(client):
    response = client.post(
        "/create_feature_metadata",
        json={**SEED_FEATURE, "query": "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"},
    )
    assert response.status_code == 422
    assert "DELETE" in response.get_json()["errors"]["query"][0]


def test_nothing_is_stored_when_creation_is_rejected(client):
    client.post("/create_feature_metadata", json={**SEED_FEATURE, "query": "DROP TABLE x"})
    response = client.get(
        f"/get_feature_metadata/{SEED_FEATURE['feature_name']}?user_role=developer"
    )
    assert response.status_code == 404


def test_two_spellings_of_one_version_are_one_feature(client, make_feature):
    name = make_feature("DELETED")["feature_name"]  # e.g. test_view:feature_1:1
    view, feature, version = name.split(":")
    response = client.post(
        "/create_feature_metadata",
        json={**SEED_FEATURE, "feature_name": f"{view}:{feature}:v{version}"},
    )
    assert response.status_code == 409
    detail = response.get_json()["detail"]
    assert f"as '{name}' (the same version)" in detail
    assert "new version" in detail


def test_either_spelling_of_a_version_reads_and_serves_the_same_feature(client, make_feature):
    name = make_feature("DEPLOYED")["feature_name"]  # e.g. test_view:feature_1:1
    view, feature, version = name.split(":")
    other = f"{view}:{feature}:v{version}"
    response = client.get(f"/get_feature_metadata/{other}?user_role=developer")
    assert response.status_code == 200
    assert response.get_json()["metadata"]["feature_name"] == name
    served = client.post(
        "/features", json={"features": [name, other], "entities": {"id": ["a", "b"]}}
    ).get_json()
    assert served["metadata"]["feature_names"] == ["id", name, other]
    assert served["results"][1] == served["results"][2]
    assert served["results"][2]["statuses"] == ["PRESENT", "PRESENT"]
