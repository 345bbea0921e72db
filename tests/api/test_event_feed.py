"""The event feed (SPEC §9): every change-log entry of every feature, in commit order,
paged with an opaque cursor; filters by type and feature; invalid input is 422."""

import pytest

from tests.conftest import bearer

READ = "user_role=external_testing_system"


def feed(client, query="", status=200):
    response = client.get(f"/events?{READ}{'&' if query else ''}{query}")
    assert response.status_code == status, response.get_json()
    return response.get_json()


def follow(client, query="", limit=2):
    """Every event, following next_cursor page by page until nothing is new."""
    seen, cursor = [], None
    while True:
        after = f"&after={cursor}" if cursor else ""
        page = feed(client, f"limit={limit}{after}{'&' if query else ''}{query}")
        if not page["events"]:
            assert page["next_cursor"] == cursor  # nothing new: the given cursor back
            return seen
        seen += page["events"]
        cursor = page["next_cursor"]


def test_an_event_is_its_change_log_entry_plus_id_type_name_and_statuses(client, make_feature):
    feature = make_feature("READY_FOR_TESTING")
    name = feature["feature_name"]
    changes = client.get(f"/features/{name}/changes?{READ}").get_json()["changes"]
    events = feed(client)["events"]
    assert [e["type"] for e in events] == ["feature.create", "feature.submit"]
    for event, entry in zip(events, changes, strict=True):
        assert {k: event[k] for k in entry} == entry
        assert event["feature_name"] == name
        assert event["id"].startswith("evt_")
    assert (events[0]["previous_status"], events[0]["new_status"]) == (None, "DRAFT")
    assert (events[1]["previous_status"], events[1]["new_status"]) == (
        "DRAFT",
        "READY_FOR_TESTING",
    )
    assert len({e["id"] for e in events}) == 2


def test_following_next_cursor_sees_every_event_once_in_order(client, make_feature):
    names = [make_feature("TEST_SUCCEEDED")["feature_name"] for _ in range(3)]
    everything = feed(client, "limit=1000")["events"]
    assert len(everything) == 9
    assert follow(client, limit=2) == everything
    assert [e["feature_name"] for e in everything] == [n for n in names for _ in range(3)]


def test_next_cursor_picks_up_events_committed_later(client, make_feature):
    make_feature()
    first = feed(client)
    again = feed(client, f"after={first['next_cursor']}")
    assert again == {"events": [], "next_cursor": first["next_cursor"]}
    later = make_feature()
    page = feed(client, f"after={first['next_cursor']}")
    assert [e["feature_name"] for e in page["events"]] == [later["feature_name"]]


def test_an_empty_feed_without_a_cursor_answers_a_start_cursor_that_works(client, make_feature):
    page = feed(client)
    assert page["events"] == []
    feature = make_feature()
    resumed = feed(client, f"after={page['next_cursor']}")
    assert [e["feature_name"] for e in resumed["events"]] == [feature["feature_name"]]


def test_type_filter_takes_a_comma_list(client, make_feature):
    make_feature("DEPLOYED")
    make_feature("READY_FOR_TESTING")
    events = feed(client, "type=feature.approve,feature.submit")["events"]
    assert [e["type"] for e in events] == ["feature.submit", "feature.approve", "feature.submit"]
    assert follow(client, "type=feature.approve,feature.submit", limit=1) == events


def test_feature_name_filter_returns_that_features_events_only(client, make_feature):
    make_feature("READY_FOR_TESTING")
    wanted = make_feature("TEST_FAILED")["feature_name"]
    make_feature()
    events = feed(client, f"feature_name={wanted}")["events"]
    assert [e["type"] for e in events] == ["feature.create", "feature.submit", "feature.test"]
    assert {e["feature_name"] for e in events} == {wanted}
    assert feed(client, f"feature_name={wanted}&type=feature.test")["events"] == events[2:]


def test_limit_defaults_to_100_and_pages_beyond(client, make_feature):
    for _ in range(34):
        make_feature("TEST_SUCCEEDED")  # three events each: 102
    first = feed(client)
    assert len(first["events"]) == 100
    rest = feed(client, f"after={first['next_cursor']}")
    assert len(rest["events"]) == 2


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "limit=-1"])
def test_limit_outside_1_to_1000_is_422(client, query):
    assert "limit" in feed(client, query, status=422)["errors"]


@pytest.mark.parametrize(
    "cursor",
    ["nonsense", "1", "8000000000000000", "ffffffffffffffff", "000000000000000g",
     "00000000000000001", "000000000000001", "000000000000000A", "%00", "", "0x00000000000001"],
)  # fmt: skip
def test_a_cursor_the_service_did_not_hand_out_is_422(client, make_feature, cursor):
    make_feature()
    body = feed(client, f"after={cursor}", status=422)
    assert "after" in body["errors"]


def test_unknown_type_or_bad_feature_name_or_unknown_parameter_is_422(client):
    assert "type" in feed(client, "type=feature.create,feature.nope", status=422)["errors"]
    assert "type" in feed(client, "type=", status=422)["errors"]
    assert "feature_name" in feed(client, "feature_name=not-a-name", status=422)["errors"]
    assert "cursor" in feed(client, "cursor=x", status=422)["errors"]


def test_refused_and_rolled_back_writes_leave_no_event(client, make_feature):
    feature = make_feature("DEPLOYED")
    before = feed(client)["events"]
    refused = client.post("/approve_feature_metadata", json={
        "feature_name": feature["feature_name"], "approved_by": "boss", "user_role": "approver",
    })  # fmt: skip
    assert refused.status_code == 409
    assert feed(client)["events"] == before


def test_any_role_may_read_the_feed_and_token_mode_needs_a_token(
    token_client, issue_token, make_feature
):
    make_feature()
    assert token_client.get("/events").status_code == 401
    for role in ("developer", "approver", "external_testing_system", "admin"):
        response = token_client.get("/events", headers=bearer(issue_token(role)))
        assert response.status_code == 200
        assert [e["type"] for e in response.get_json()["events"]] == ["feature.create"]
