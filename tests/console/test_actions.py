"""Actions on the feature page: shown per role from the lifecycle table, taken through the
API's services, with the revision shown, CSRF, and the API's refusals (SPEC §10)."""

from __future__ import annotations

import html as html_lib

from feature_gateway.domain.lifecycle import TRIGGERS, Role, Status
from tests.console.support import (
    action_path,
    csrf_token,
    feature_path,
    flashes,
    form_actions,
    page,
    post_form,
    revision_of,
    sign_in_token,
    sign_in_trust,
)

_NAMES = {Role.DEVELOPER: "dora", Role.EXTERNAL_TESTING_SYSTEM: "qa-bot", Role.APPROVER: "carol"}


def _offered(client, name: str) -> set[str]:
    prefix = f"/console/features/{name}/actions/"
    return {
        a.removeprefix(prefix)
        for a in form_actions(page(client, feature_path(name)))
        if a.startswith(prefix)
    }


_STATUSES = (
    "DRAFT",
    "READY_FOR_TESTING",
    "TEST_SUCCEEDED",
    "TEST_FAILED",
    "REJECTED",
    "DEPLOYED",
    "DEPRECATED",
)


def test_each_role_is_offered_exactly_the_triggers_the_lifecycle_table_allows(app, make_feature):
    made = {status: make_feature(status)["feature_name"] for status in _STATUSES}
    for role, person in _NAMES.items():
        client = app.test_client()
        sign_in_trust(client, role.value, person)
        for status, name in made.items():
            expected = {
                t.name
                for t in TRIGGERS.values()
                if t.action is not None and role in t.roles and Status(status) in t.sources
            }
            assert _offered(client, name) == expected, (role, status)
            html = page(client, feature_path(name))
            offers_version = f"/console/features/{name}/versions" in form_actions(html)
            assert offers_version == (role is Role.DEVELOPER), (role, status)


def test_an_approver_approves_and_the_feature_is_deployed_with_its_audit_rows(
    client, make_feature, audit_rows
):
    feature = make_feature("TEST_SUCCEEDED")
    name = feature["feature_name"]
    sign_in_trust(client, "approver", "carol")
    response = post_form(
        client, feature_path(name), action_path(name, "approve"), {"approval_notes": "looks right"}
    )
    assert response.status_code == 302 and response.headers["Location"] == feature_path(name)
    html = html_lib.unescape(page(client, feature_path(name)))
    assert f"Feature approved and deployed: {name} is now DEPLOYED." in flashes(html)
    assert 'status-deployed">DEPLOYED' in html
    rows = audit_rows(name)[-2:]
    assert [(r["trigger"], r["to_status"], r["actor"], r["actor_role"]) for r in rows] == [
        ("approve", "APPROVED", "carol", "approver"),
        ("deploy", "DEPLOYED", "carol", "approver"),
    ]
    metadata = client.get(f"/get_feature_metadata/{name}?user_role=approver").get_json()[
        "metadata"
    ]
    assert metadata["approval_notes"] == "looks right"


def test_the_author_is_refused_approving_their_own_feature_with_the_api_message(
    client, make_feature
):
    feature = make_feature("TEST_SUCCEEDED", created_by="alice")
    name = feature["feature_name"]
    sign_in_trust(client, "approver", "alice")
    post_form(client, feature_path(name), action_path(name, "approve"))
    html = html_lib.unescape(page(client, feature_path(name)))
    assert (
        "Refused: Separation of duties: alice created this feature, so alice cannot " "approve it."
    ) in flashes(html)
    assert 'status-test_succeeded">TEST_SUCCEEDED' in html


def test_a_page_left_open_while_the_feature_changed_refuses_the_stale_approval(
    client, make_feature
):
    feature = make_feature("TEST_SUCCEEDED")
    name = feature["feature_name"]
    sign_in_trust(client, "approver", "carol")
    html = page(client, feature_path(name))
    seen = revision_of(html, action_path(name, "approve"))
    changed = client.post(
        "/update_feature_metadata",
        json={
            "feature_name": name,
            "description": "changed meanwhile",
            "last_updated_by": "dev",
            "user_role": "developer",
        },
    )
    assert changed.status_code == 200
    response = client.post(
        action_path(name, "approve"), data={"csrf_token": csrf_token(html), "revision": seen}
    )
    assert response.status_code == 302
    after = html_lib.unescape(page(client, feature_path(name)))
    assert any("changed since you loaded it — reload" in m for m in flashes(after))
    assert 'status-test_succeeded">TEST_SUCCEEDED' in after


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(client, make_feature):
    feature = make_feature("TEST_SUCCEEDED")
    name = feature["feature_name"]
    sign_in_trust(client, "approver", "carol")
    html = page(client, feature_path(name))
    revision = revision_of(html, action_path(name, "approve"))
    for data in ({"revision": revision}, {"revision": revision, "csrf_token": "forged"}):
        response = client.post(action_path(name, "approve"), data=data)
        assert response.status_code == 400
        assert "did not carry a valid CSRF token" in response.get_data(as_text=True)
    status = client.get(f"/get_feature_metadata/{name}?user_role=approver").get_json()
    assert status["metadata"]["status"] == "TEST_SUCCEEDED"


def test_a_csrf_token_of_another_session_is_refused(app, client, make_feature):
    feature = make_feature("TEST_SUCCEEDED")
    name = feature["feature_name"]
    other = app.test_client()
    sign_in_trust(other, "approver", "mallory")
    foreign = csrf_token(page(other, "/console/queue"))
    sign_in_trust(client, "approver", "carol")
    revision = revision_of(page(client, feature_path(name)), action_path(name, "approve"))
    response = client.post(
        action_path(name, "approve"), data={"csrf_token": foreign, "revision": revision}
    )
    assert response.status_code == 400


def test_sign_in_without_the_csrf_token_is_refused(client):
    response = client.post("/console/sign-in", data={"role": "approver", "name": "carol"})
    assert response.status_code == 400
    assert client.get("/console/queue").status_code == 302


def test_the_tester_records_a_result_with_notes(client, make_feature):
    feature = make_feature("READY_FOR_TESTING")
    name = feature["feature_name"]
    sign_in_trust(client, "external_testing_system", "qa-bot")
    post_form(
        client,
        feature_path(name),
        action_path(name, "test"),
        {"test_result": "TEST_FAILED", "test_notes": "null rate 12%\r\non 3 days"},
    )
    html = html_lib.unescape(page(client, feature_path(name)))
    assert f"Test result recorded: {name} is now TEST_FAILED." in flashes(html)
    assert '<p class="notes">null rate 12%\non 3 days</p>' in html


def test_rejecting_without_a_reason_is_a_readable_422_message(client, make_feature):
    feature = make_feature("TEST_SUCCEEDED")
    name = feature["feature_name"]
    sign_in_trust(client, "approver", "carol")
    post_form(client, feature_path(name), action_path(name, "reject"), {"rejection_reason": ""})
    messages = flashes(html_lib.unescape(page(client, feature_path(name))))
    assert messages == ["Refused: Rejection reason: Missing data for required field."]


def test_a_developer_submits_and_fixes_and_the_tester_sees_it_in_the_queue(
    app, client, make_feature
):
    feature = make_feature("DRAFT", created_by="dora")
    name = feature["feature_name"]
    sign_in_trust(client, "developer", "dora")
    post_form(client, feature_path(name), action_path(name, "submit"))
    assert "is now READY_FOR_TESTING" in " ".join(flashes(page(client, feature_path(name))))
    tester = app.test_client()
    sign_in_trust(tester, "external_testing_system", "qa-bot")
    assert name in page(tester, "/console/queue")


def test_a_trigger_not_allowed_from_the_current_state_shows_the_api_409(client, make_feature):
    feature = make_feature("TEST_SUCCEEDED")
    name = feature["feature_name"]
    sign_in_trust(client, "approver", "carol")
    html = page(client, feature_path(name))
    token, revision = csrf_token(html), revision_of(html, action_path(name, "approve"))
    client.post(action_path(name, "approve"), data={"csrf_token": token, "revision": revision})
    # the same form sent again at the new revision: approve is not allowed from DEPLOYED
    current = str(int(revision) + 1)
    client.post(action_path(name, "approve"), data={"csrf_token": token, "revision": current})
    messages = html_lib.unescape(" ".join(flashes(page(client, feature_path(name)))))
    assert "Refused:" in messages and "DEPLOYED" in messages and "TEST_SUCCEEDED" in messages


def test_a_role_that_may_not_fire_a_trigger_is_refused_even_when_posting_by_hand(
    client, make_feature
):
    feature = make_feature("TEST_SUCCEEDED")
    name = feature["feature_name"]
    sign_in_trust(client, "developer", "dora")
    html = page(client, feature_path(name))
    client.post(
        action_path(name, "approve"), data={"csrf_token": csrf_token(html), "revision": "3"}
    )
    messages = html_lib.unescape(" ".join(flashes(page(client, feature_path(name)))))
    assert "Refused:" in messages and "approve features" in messages and "approver" in messages


def test_deprecating_names_the_replacement_and_refuses_an_unknown_one(client, make_feature):
    old, new = make_feature("DEPLOYED"), make_feature("DEPLOYED")
    name = old["feature_name"]
    sign_in_trust(client, "approver", "carol")
    post_form(
        client,
        feature_path(name),
        action_path(name, "deprecate"),
        {"deprecation_reason": "superseded", "replaced_by": "nope:nothing:1"},
    )
    assert "does not exist" in html_lib.unescape(
        " ".join(flashes(page(client, feature_path(name))))
    )
    post_form(
        client,
        feature_path(name),
        action_path(name, "deprecate"),
        {"deprecation_reason": "superseded", "replaced_by": new["feature_name"]},
    )
    html = html_lib.unescape(page(client, feature_path(name)))
    assert f"{name} is now DEPRECATED" in " ".join(flashes(html))
    assert f'<a href="{feature_path(new["feature_name"])}">' in html


def test_a_developer_makes_a_new_version_and_lands_on_its_page(client, make_feature):
    feature = make_feature("DEPLOYED")
    name = feature["feature_name"]
    sign_in_trust(client, "developer", "dora")
    response = post_form(
        client,
        feature_path(name),
        f"/console/features/{name}/versions",
        {
            "query": "SELECT conv_rate FROM driver_hourly_stats\r\nWHERE active",
            "description": "v2",
            "feature_type": "batch",
            "feature_data_type": "double",
            "owner": "",
        },
    )
    new_name = name.rsplit(":", 1)[0] + ":2"
    assert response.headers["Location"] == feature_path(new_name)
    html = html_lib.unescape(page(client, feature_path(new_name)))
    assert f"Version {new_name} created (DRAFT)." in flashes(html)
    assert '<span class="diff-add">+WHERE active</span>' in html
    created = client.get(f"/get_feature_metadata/{new_name}?user_role=developer").get_json()
    assert (
        created["metadata"]["query"] == "SELECT conv_rate FROM driver_hourly_stats\nWHERE active"
    )
    assert created["metadata"]["feature_data_type"] == "double"
    assert created["metadata"]["created_by"] == "dora"


def test_a_new_version_with_an_invalid_query_is_refused_with_the_api_message(client, make_feature):
    feature = make_feature("DEPLOYED")
    name = feature["feature_name"]
    sign_in_trust(client, "developer", "dora")
    post_form(
        client,
        feature_path(name),
        f"/console/features/{name}/versions",
        {
            "query": "DROP TABLE features",
            "description": "bad",
            "feature_type": "batch",
            "feature_data_type": "float",
        },
    )
    messages = html_lib.unescape(" ".join(flashes(page(client, feature_path(name)))))
    assert messages.startswith("Refused: Query:")


def test_in_token_mode_actions_are_recorded_as_the_verified_principal(
    token_client, issue_token, make_feature, connection
):
    from sqlalchemy import text

    feature = make_feature("TEST_SUCCEEDED")
    name = feature["feature_name"]
    token = issue_token("approver", "admin", principal="Carol")
    sign_in_token(token_client, token)
    assert _offered(token_client, name) == {"approve", "reject"}
    post_form(token_client, feature_path(name), action_path(name, "approve"))
    html = page(token_client, feature_path(name))
    assert "is now DEPLOYED" in " ".join(flashes(html))
    credential = f"token:{token.split('_')[1]}"
    rows = connection.execute(
        text(
            "SELECT a.actor, a.actor_role, a.authenticated, a.credential FROM feature_audit a"
            " JOIN features f ON f.id = a.feature_id WHERE f.feature_name = :n ORDER BY a.id"
        ),
        {"n": name},
    ).all()
    assert [tuple(r) for r in rows[-2:]] == [("Carol", "approver", True, credential)] * 2
    changes = connection.execute(
        text(
            "SELECT c.credential FROM feature_changes c JOIN features f ON f.id = c.feature_id"
            " WHERE f.feature_name = :n ORDER BY c.id"
        ),
        {"n": name},
    ).scalars()
    assert list(changes)[-1] == credential
    # The timeline says how the entry was verified.
    assert f"(verified by {credential})" in html


def test_in_token_mode_an_admin_token_reads_but_is_offered_no_action(
    token_client, issue_token, make_feature
):
    feature = make_feature("TEST_SUCCEEDED")
    sign_in_token(token_client, issue_token("admin", principal="root"))
    assert _offered(token_client, feature["feature_name"]) == set()
    html = page(token_client, "/console/queue")
    assert "No review queue for your role" in html


def test_retiring_a_feature_still_read_is_refused_until_forced_with_a_reason(
    client, make_feature, flush_usage
):
    name = make_feature("DEPRECATED")["feature_name"]
    assert (
        client.post("/features", json={"features": [name], "entities": {"id": [1]}}).status_code
        == 200
    )
    flush_usage()
    sign_in_trust(client, "approver", "carol")
    retire = action_path(name, "retire")

    post_form(client, feature_path(name), retire, {"retirement_reason": "moved"})
    refused = html_lib.unescape(" ".join(flashes(page(client, feature_path(name)))))
    assert "still read" in refused and "anonymous (1 read)" in refused
    post_form(client, feature_path(name), retire, {"retirement_forced": "y"})
    assert "needs a reason" in html_lib.unescape(
        " ".join(flashes(page(client, feature_path(name))))
    )
    post_form(
        client,
        feature_path(name),
        retire,
        {"retirement_forced": "y", "retirement_reason": "moved"},
    )

    html = html_lib.unescape(page(client, feature_path(name)))
    assert f"{name} is now RETIRED" in " ".join(flashes(html))
    history = client.get(f"/features/{name}/history?user_role=approver").get_json()["history"]
    assert history[-1]["forced"] is True
