"""Who reads what (SPEC §13): counted reads, GET /features/<name>/usage and the retirement
guard, on both databases. The counts are flushed as a worker's flusher would
(``flush_usage``); the real flusher thread and gunicorn's workers are tested in
tests/concurrency/test_usage_servers.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from feature_gateway.domain.usage import DAY_MS
from feature_gateway.services.clock import now_ms
from tests.conftest import bearer

MakeFeature = Callable[..., dict[str, Any]]
RETIRE = {"retired_by": "boss", "user_role": "approver", "retirement_reason": "unused"}


def _read(client: FlaskClient, names: list[str], **kwargs: Any) -> None:
    body = {"features": names, "entities": {"id": [1, 2, 3]}}
    assert client.post("/features", json=body, **kwargs).status_code == 200


def _read_feast(client: FlaskClient, refs: list[str], **kwargs: Any) -> None:
    body = {"features": refs, "entities": {"id": [1, 2, 3]}}
    assert client.post("/get-online-features", json=body, **kwargs).status_code == 200


def _usage(client: FlaskClient, name: str, query: str = "", **kwargs: Any) -> dict[str, Any]:
    response = client.get(f"/features/{name}/usage?user_role=developer{query}", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def test_reads_through_both_endpoints_are_counted_per_feature_for_anonymous(
    client, make_feature, flush_usage
):
    first = make_feature("DEPLOYED", feature_name="drivers:rate:1")["feature_name"]
    second = make_feature("DEPRECATED", feature_name="drivers:trips:1")["feature_name"]
    before = now_ms()
    _read(client, [first, second, "drivers:nothing:1"])
    _read(client, [first])
    _read_feast(client, ["drivers:rate", "drivers:trips"])

    assert flush_usage() == 2
    first_usage, second_usage = _usage(client, first), _usage(client, second)

    assert first_usage["feature_name"] == first and first_usage["days"] == 30
    assert first_usage["reads"] == 3
    [consumer] = first_usage["consumers"]
    assert consumer["principal"] == "anonymous" and consumer["reads"] == 3
    assert before <= consumer["first_read_time"] <= consumer["last_read_time"] <= now_ms()
    assert second_usage["reads"] == 2


def test_features_that_are_not_served_are_not_counted(client, make_feature, flush_usage):
    draft = make_feature("DRAFT")["feature_name"]
    _read(client, [draft, "nowhere:at_all:1"])
    assert flush_usage() == 0
    assert _usage(client, draft) == {
        "feature_name": draft,
        "days": 30,
        "reads": 0,
        "consumers": [],
    }


def test_in_token_mode_each_principal_is_a_consumer(
    token_client, issue_token, make_feature, flush_usage
):
    name = make_feature("DEPLOYED")["feature_name"]
    ranker = bearer(issue_token("developer", principal="ranker"))
    scorer = bearer(issue_token("approver", principal="scorer"))
    for _ in range(3):
        _read(token_client, [name], headers=ranker)
    _read_feast(token_client, [name], headers=scorer)
    flush_usage()

    body = _usage(token_client, name, headers=ranker)

    assert body["reads"] == 4
    assert [(c["principal"], c["reads"]) for c in body["consumers"]] == [
        ("ranker", 3),
        ("scorer", 1),
    ]


def test_flushes_add_up_and_days_bound_the_window(client, make_feature, flush_usage, connection):
    name = make_feature("DEPLOYED")["feature_name"]
    _read(client, [name])
    flush_usage()
    _read(client, [name])
    _read(client, [name])
    flush_usage()
    # A read 40 days ago, as an earlier flush left it.
    old = now_ms() - 40 * DAY_MS
    connection.execute(
        text("INSERT INTO feature_usage VALUES (:n, :d, 'anonymous', 5, :t, :t)"),
        {"n": name, "d": old // DAY_MS, "t": old},
    )

    assert _usage(client, name)["reads"] == 3
    everything = _usage(client, name, "&days=366")
    assert everything["reads"] == 8
    assert everything["consumers"][0]["first_read_time"] == old
    assert _usage(client, name, "&days=1")["reads"] == 3


@pytest.mark.parametrize("days", ["0", "367", "ten", "1.5"])
def test_days_out_of_range_is_422(client, make_feature, days):
    name = make_feature("DEPLOYED")["feature_name"]
    response = client.get(f"/features/{name}/usage?user_role=developer&days={days}")
    assert response.status_code == 422
    assert "days" in response.get_json()["errors"]


def test_usage_of_an_unknown_feature_is_404_and_a_role_is_needed(client):
    assert client.get("/features/no:such:1/usage?user_role=approver").status_code == 404
    assert client.get("/features/no:such:1/usage").status_code == 422


def _retire(client: FlaskClient, name: str, **fields: Any) -> Any:
    return client.post("/retire_feature_metadata", json={"feature_name": name, **RETIRE, **fields})


def test_retiring_a_feature_read_in_the_quiet_period_is_refused_naming_its_readers(
    token_client, issue_token, make_feature, flush_usage, audit_rows
):
    name = make_feature("DEPRECATED")["feature_name"]
    for principal, times in (("scorer", 1), ("ranker", 2)):
        for _ in range(times):
            _read(
                token_client, [name], headers=bearer(issue_token("developer", principal=principal))
            )
    flush_usage()
    approver = bearer(issue_token("approver", principal="boss"))

    response = token_client.post(
        "/retire_feature_metadata", json={"feature_name": name}, headers=approver
    )

    assert response.status_code == 409, response.get_data(as_text=True)
    problem = response.get_json()
    assert problem["title"] == "Feature Still Read"
    assert "ranker (2 reads), scorer (1 read)" in problem["detail"]
    assert "last read 20" in problem["detail"] and '"force": true' in problem["detail"]
    assert [row["to_status"] for row in audit_rows(name)][-1] == "DEPRECATED"


def test_a_forced_retirement_needs_a_reason_and_is_recorded_as_forced(
    client, make_feature, flush_usage
):
    name = make_feature("DEPRECATED")["feature_name"]
    _read(client, [name])
    flush_usage()

    no_reason = _retire(client, name, force=True, retirement_reason=None)
    assert no_reason.status_code == 422
    missing = client.post(
        "/retire_feature_metadata",
        json={"feature_name": name, "retired_by": "boss", "user_role": "approver", "force": True},
    )
    assert missing.status_code == 422 and "retirement_reason" in missing.get_json()["errors"]

    forced = _retire(client, name, force=True)

    assert forced.status_code == 200, forced.get_data(as_text=True)
    assert forced.get_json()["metadata"]["retirement_forced"] is True
    last = client.get(f"/features/{name}/history?user_role=approver").get_json()["history"][-1]
    assert (last["trigger"], last["forced"], last["reason"]) == ("retire", True, "unused")
    change = client.get(f"/features/{name}/changes?user_role=approver").get_json()["changes"][-1]
    assert change["action"] == "retire"
    assert change["fields"]["retirement_forced"] == {"from": None, "to": True}
    event = client.get(f"/events?user_role=approver&feature_name={name}").get_json()["events"]
    assert event[-1]["fields"]["retirement_forced"] == {"from": None, "to": True}


def test_an_unread_feature_retires_unforced_even_when_force_is_asked(client, make_feature):
    quiet, asked = make_feature("DEPRECATED"), make_feature("DEPRECATED")

    plain = _retire(client, quiet["feature_name"])
    forced = _retire(client, asked["feature_name"], force=True)

    for response in (plain, forced):
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["metadata"]["retirement_forced"] is None
    history = client.get(f"/features/{asked['feature_name']}/history?user_role=approver")
    assert {entry["forced"] for entry in history.get_json()["history"]} == {False}


def test_reads_before_the_quiet_period_do_not_block_retirement(client, make_feature, connection):
    name = make_feature("DEPRECATED")["feature_name"]
    eight_days_ago = now_ms() - 8 * DAY_MS
    connection.execute(
        text("INSERT INTO feature_usage VALUES (:n, :d, 'ranker', 50, :t, :t)"),
        {"n": name, "d": eight_days_ago // DAY_MS, "t": eight_days_ago},
    )

    assert _retire(client, name).status_code == 200


def test_the_guard_is_not_asked_when_the_state_refuses_anyway(client, make_feature, flush_usage):
    name = make_feature("DEPLOYED")["feature_name"]
    _read(client, [name])
    flush_usage()
    response = _retire(client, name)
    assert response.status_code == 409
    assert response.get_json()["title"] == "Invalid Status Transition"
