"""List filters of the catalog: owner, tags, several values per filter, time ranges."""

import pytest

from tests.conftest import SEED_FEATURE


def names(response):
    assert response.status_code == 200, response.get_json()
    return sorted(m["feature_name"] for m in response.get_json()["metadata"])


def get(client, query):
    return names(client.get(f"/get_all_feature_metadata?user_role=developer&{query}"))


def post(client, **filters):
    return names(client.post("/get_all_feature_metadata",
                             json={"user_role": "developer", **filters}))  # fmt: skip


@pytest.fixture
def shelf(make_feature):
    made = {
        "pricing": make_feature(owner="pricing", tags={"team": "pricing", "pii": "no"}),
        "pricing_deployed": make_feature("DEPLOYED", owner="pricing", tags={"team": "pricing"}),
        "search": make_feature("TEST_FAILED", owner="search", tags={"team": "search", "pii": ""}),
        "untagged": make_feature("REJECTED", feature_type="real-time"),
    }
    return {key: metadata["feature_name"] for key, metadata in made.items()}


def test_owner_filters_exactly(client, shelf):
    assert get(client, "owner=pricing") == sorted([shelf["pricing"], shelf["pricing_deployed"]])
    assert post(client, owner="pricin") == []


def test_several_owners_match_any_of_them(client, shelf):
    expected = sorted([shelf["pricing"], shelf["pricing_deployed"], shelf["search"]])
    assert get(client, "owner=pricing,search") == expected
    assert post(client, owner=["pricing", "search"]) == expected


def test_tag_pairs_must_all_match(client, shelf):
    assert get(client, "tag=team:pricing,pii:no") == [shelf["pricing"]]
    assert post(client, tags={"team": "pricing", "pii": "no"}) == [shelf["pricing"]]
    assert post(client, tags={"team": "pricing", "pii": "yes"}) == []


def test_one_key_asked_with_two_values_matches_nothing(client, shelf):
    assert get(client, "tag=team:pricing,team:search") == []
    assert get(client, "tag=team:pricing,team") == sorted(
        [shelf["pricing"], shelf["pricing_deployed"]])  # fmt: skip


def test_a_key_without_a_value_means_has_the_key(client, shelf):
    expected = sorted([shelf["pricing"], shelf["search"]])
    assert get(client, "tag=pii") == expected
    assert post(client, tags={"pii": None}) == expected
    assert get(client, "tag=pii:") == [shelf["search"]]  # the empty value itself


def test_status_and_types_accept_several_values(client, shelf):
    expected = sorted([shelf["pricing"], shelf["search"]])
    assert get(client, "status=DRAFT,TEST_FAILED") == expected
    assert post(client, status=["DRAFT", "TEST_FAILED"]) == expected
    assert post(client, status="DRAFT") == [shelf["pricing"]]  # the seed's single value
    assert get(client, "feature_type=real-time,compute-first") == [shelf["untagged"]]
    assert post(client, feature_type=["batch"], owner="search") == [shelf["search"]]


def test_filters_combine_with_and(client, shelf):
    assert get(client, "owner=pricing&status=DEPLOYED&tag=team:pricing") == [
        shelf["pricing_deployed"]
    ]


def test_time_ranges_are_inclusive_after_and_exclusive_before(client, make_feature):
    first, second = make_feature(), make_feature()
    t1, t2 = first["created_time"], second["created_time"]
    if t1 == t2:
        pytest.skip("both features were created in the same millisecond")
    both = sorted([first["feature_name"], second["feature_name"]])
    assert get(client, f"created_after={t1}") == both
    assert get(client, f"created_after={t1}&created_before={t2}") == [first["feature_name"]]
    assert post(client, created_after=t2) == [second["feature_name"]]
    assert post(client, updated_before=t1) == []
    assert post(client, updated_after=t1, updated_before=t2 + 1) == both


@pytest.mark.parametrize(
    "query",
    [
        "tag=Team:x", "tag=", "tag=a,,b", "status=DRAFT,NOPE", "status=",
        "feature_type=batch,", "owner=a,,b", "created_after=-1", "created_after=soon",
        "updated_before=1.5", f"created_before={2**63}",
    ],
)  # fmt: skip
def test_invalid_get_filters_are_422(client, query):
    response = client.get(f"/get_all_feature_metadata?user_role=developer&{query}")
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"]


@pytest.mark.parametrize(
    "filters",
    [
        {"tags": {"Team": "x"}}, {"tags": {"team": 1}}, {"tags": "team:x"},
        {"tags": {f"k{i}": None for i in range(21)}}, {"status": []}, {"status": ["NOPE"]},
        {"status": [None]}, {"owner": [""]}, {"owner": 5}, {"created_after": "1"},
        {"updated_after": True}, {"feature_data_type": ["float"] * 101},
    ],
)  # fmt: skip
def test_invalid_post_filters_are_422(client, filters):
    response = client.post("/get_all_feature_metadata", json={"user_role": "developer", **filters})
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["errors"]) == set(filters)


def test_total_count_counts_every_tag_match_beyond_the_page(client, make_feature):
    for _ in range(3):
        make_feature(tags={"batch": "nightly"})
    response = client.get("/get_all_feature_metadata?user_role=developer&tag=batch&limit=2")
    assert response.get_json()["total_count"] == 3
    assert len(response.get_json()["metadata"]) == 2


def test_deleted_features_stay_hidden_under_tag_filters_unless_asked_for(client, make_feature):
    deleted = make_feature("DELETED", tags={"team": "gone"})["feature_name"]
    assert get(client, "tag=team:gone") == []
    assert get(client, "tag=team:gone&include_deleted=true") == [deleted]


def test_the_seed_list_payload_still_works(client, make_feature):
    make_feature("DEPLOYED", **{k: v for k, v in SEED_FEATURE.items() if k == "description"})
    response = client.post("/get_all_feature_metadata",
                           json={"user_role": "developer", "status": "APPROVED"})  # fmt: skip
    assert response.status_code == 200
    assert response.get_json()["metadata"] == []
