from tests.conftest import SEED_FEATURE


def test_the_seed_example_creates_a_draft_feature(client, audit_rows):
    response = client.post("/create_feature_metadata", json=SEED_FEATURE)
    assert response.status_code == 201
    assert response.get_json()["metadata"]["status"] == "DRAFT"
    assert [r["trigger"] for r in audit_rows(SEED_FEATURE["feature_name"])] == ["create"]


def test_make_feature_reaches_every_status(make_feature):
    for status in ("DRAFT", "TEST_FAILED", "DEPLOYED", "REJECTED", "DELETED"):
        assert make_feature(status)["status"] == status
