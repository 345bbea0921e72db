"""The console for daily use (SPEC §10, issue 22): queues that say who did what, how long
each feature waited and whether you may act; the header search; creating a feature; short
search URLs; times formatted everywhere."""

from __future__ import annotations

import dataclasses
import html as html_lib
import re
import time

from feature_gateway.console.views import lists
from feature_gateway.services.clock import now_ms
from feature_gateway.web.context import EXTENSION
from tests.console.support import (
    action_path,
    csrf_token,
    feature_path,
    flashes,
    form_actions,
    page,
    sign_in_token,
    sign_in_trust,
)

DAY_MS = 86_400_000


def _rows(html: str, role: str) -> list[str]:
    """The text of each row of the queue of ``role``, in order."""
    start = html.index(f'class="cards queue queue-{role}"')
    table = html[start : html.index("</table>", start)]
    body = table[table.index("<tbody>") :]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    texts = (html_lib.unescape(re.sub(r"<[^>]+>", " ", row)) for row in rows)
    return [re.sub(r"\s+", " ", text).strip() for text in texts]


def test_the_approver_queue_shows_who_did_what_and_how_long_each_waited_oldest_first(
    client, make_feature, monkeypatch
):
    older = make_feature(
        "TEST_SUCCEEDED", feature_name="queue_view:zeta:1", created_by="alice", owner="growth"
    )
    time.sleep(0.01)
    newer = make_feature("TEST_SUCCEEDED", feature_name="queue_view:alpha:1", created_by="bob")
    monkeypatch.setattr(lists, "now_ms", lambda: now_ms() + 3 * DAY_MS + 60_000)
    sign_in_trust(client, "approver", "carol")
    rows = [r for r in _rows(page(client, "/console/queue"), "approver") if "queue_view" in r]
    assert [r.split()[0] for r in rows] == [older["feature_name"], newer["feature_name"]]
    first = rows[0]
    for shown in (
        "waiting 3 days",
        "Owner: growth",
        "Author: alice",
        "Submitter: dev",
        "Tester: qa",
        "You may approve or reject",
    ):
        assert shown.split(": ")[-1] in first, (shown, first)
    html = page(client, "/console/queue")
    for column in ("Owner", "Author", "Submitter", "Tester"):
        assert f'<th scope="col">{column}</th>' in html
        assert f'data-label="{column}"' in html  # a card's label on a phone
    assert '<th scope="col">Waiting</th>' in html


def test_a_queue_row_says_why_you_may_not_act_on_it(client, make_feature):
    mine = make_feature("TEST_SUCCEEDED", created_by="carol")
    tested_by_me = make_feature("TEST_SUCCEEDED")  # tested by qa
    sign_in_trust(client, "approver", "carol")
    rows = _rows(page(client, "/console/queue"), "approver")
    (row,) = [r for r in rows if r.startswith(mine["feature_name"] + " ")]
    assert "You created this feature: another approver must approve it." in row
    assert "You may" not in row
    other = next(r for r in rows if r.startswith(tested_by_me["feature_name"] + " "))
    assert "You may approve or reject" in other
    sign_in_trust(client, "approver", "qa")
    rows = _rows(page(client, "/console/queue"), "approver")
    (row,) = [r for r in rows if r.startswith(tested_by_me["feature_name"] + " ")]
    assert "You recorded this feature's test result: another approver must approve it." in row


def test_the_testing_queue_refuses_the_submitter_with_the_reason(client, make_feature):
    waiting = make_feature("READY_FOR_TESTING")  # submitted by dev
    sign_in_trust(client, "external_testing_system", "dev")
    rows = _rows(page(client, "/console/queue"), "external_testing_system")
    (row,) = [r for r in rows if r.startswith(waiting["feature_name"] + " ")]
    assert "You created this feature: another testing system must record its test result." in row


def test_the_developer_queue_shows_the_failure_notes_and_the_rejection_reason_inline(
    client, make_feature
):
    failed = make_feature("READY_FOR_TESTING", created_by="dora")
    response = client.post(
        "/test_feature_metadata",
        json={
            "feature_name": failed["feature_name"],
            "test_result": "TEST_FAILED",
            "tested_by": "qa",
            "test_notes": "null rate 40% on 2026-12-01",
            "user_role": "external_testing_system",
        },
    )
    assert response.status_code == 200
    rejected = make_feature("REJECTED", created_by="dora")
    sign_in_trust(client, "developer", "dora")
    rows = _rows(page(client, "/console/queue"), "developer")
    (row,) = [r for r in rows if r.startswith(failed["feature_name"] + " ")]
    assert "Test notes (qa): null rate 40% on 2026-12-01" in row and "You may fix" in row
    (row,) = [r for r in rows if r.startswith(rejected["feature_name"] + " ")]
    assert "Rejected by boss: not useful" in row


def test_the_feature_page_says_why_an_action_is_not_offered_instead_of_offering_it(
    client, make_feature
):
    feature = make_feature("TEST_SUCCEEDED", created_by="alice")
    name = feature["feature_name"]
    sign_in_trust(client, "approver", "dev")  # the submitter
    html = html_lib.unescape(page(client, feature_path(name)))
    assert action_path(name, "approve") not in form_actions(html)
    assert action_path(name, "reject") not in form_actions(html)
    assert "You submitted this feature for testing: another approver must approve it." in html
    sign_in_trust(client, "developer", "dora")
    html = html_lib.unescape(page(client, feature_path(name)))
    assert "<strong>Approve</strong>: You hold no role that may approve features" in html
    sign_in_trust(client, "approver", "carol")
    html = page(client, feature_path(name))
    assert action_path(name, "approve") in form_actions(html)
    assert "another approver must" not in html


def test_on_the_feature_page_the_actions_come_before_all_fields_which_shows_the_set_ones(
    client, make_feature
):
    feature = make_feature("TEST_SUCCEEDED")
    sign_in_trust(client, "approver", "carol")
    html = page(client, feature_path(feature["feature_name"]))
    fields = html[html.index('<section aria-labelledby="fields">') :]
    fields = fields[: fields.index("</section>")]
    shown, unset = fields.split('<details class="unset">')
    assert ">Tested by</th><td>qa</td>" in shown and "Approved by" not in shown
    assert "Approved by" in unset and "fields not set" in unset


def test_the_change_log_shows_times_formatted_never_as_epoch_milliseconds(client, make_feature):
    feature = make_feature("DEPRECATED")
    sign_in_trust(client, "approver", "carol")
    html = page(client, feature_path(feature["feature_name"]))
    changes = html[html.index('<section aria-labelledby="changes">') :]
    changes = changes[: changes.index("</section>")]
    assert "Deprecated time:" in changes and "Approved time:" in changes
    assert not re.search(r"\b1[0-9]{12}\b", changes), changes
    assert re.search(r"<ins>20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC</ins>", changes)


def test_the_header_search_jumps_to_a_feature_by_exact_name_or_lists_the_matches(
    client, make_feature
):
    feature = make_feature("DRAFT")
    name = feature["feature_name"]
    sign_in_trust(client, "approver", "carol")
    assert 'action="/console/find"' in page(client, "/console/queue")
    response = client.get("/console/find", query_string={"q": f"  {name} "})
    assert response.status_code == 302 and response.headers["Location"] == feature_path(name)
    response = client.get("/console/find", query_string={"q": "test_view:feature"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/features?search=test_view:feature"
    assert name in page(client, response.headers["Location"])
    response = client.get("/console/find", query_string={"q": "nobody:such:1"})
    assert response.headers["Location"] == "/console/features?search=nobody:such:1"
    assert client.get("/console/find?q=").headers["Location"] == "/console/features"


def test_a_search_with_empty_and_default_parameters_redirects_to_its_short_url(client):
    sign_in_trust(client, "approver", "carol")
    response = client.get(
        "/console/features?search=&status=&status=DRAFT&feature_type=&owner=growth&created_by="
        "&tag=&created_after=&sort=feature_name&limit=50&include_deleted=&offset=0"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/features?status=DRAFT&owner=growth"
    assert client.get("/console/features?status=DRAFT&owner=growth").status_code == 200
    assert client.get("/console/features?search=").headers["Location"] == "/console/features"


def test_the_status_filter_is_a_set_of_checkboxes_that_keeps_its_choices(client):
    sign_in_trust(client, "approver", "carol")
    html = page(client, "/console/features?status=DRAFT&status=REJECTED")
    checked = re.findall(r'<input type="checkbox" name="status" value="(\w+)" checked>', html)
    assert checked == ["DRAFT", "REJECTED"]
    assert "<select" not in html[html.index("<legend>Status") : html.index("</fieldset>")]


def test_a_developer_creates_a_feature_from_the_console(client, audit_rows):
    sign_in_trust(client, "developer", "dora")
    html = page(client, "/console/queue")
    assert 'href="/console/features/new"' in html
    html = page(client, "/console/features/new")
    response = client.post(
        "/console/features/new",
        data={
            "csrf_token": csrf_token(html),
            "feature_name": "console_made:trips:1",
            "feature_type": "batch",
            "feature_data_type": "float",
            "query": "SELECT trips FROM driver_stats",
            "description": "Trips per driver",
            "owner": "",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == feature_path("console_made:trips:1")
    html = html_lib.unescape(page(client, feature_path("console_made:trips:1")))
    assert "Feature console_made:trips:1 created (DRAFT)." in flashes(html)
    created = client.get("/get_feature_metadata/console_made:trips:1?user_role=developer")
    feature = created.get_json()["metadata"]
    made = (feature["created_by"], feature["owner"], feature["status"])
    assert made == ("dora", "dora", "DRAFT")
    assert audit_rows("console_made:trips:1")[0]["actor_role"] == "developer"


def test_the_create_form_shows_the_api_validation_messages_by_each_field(client, make_feature):
    existing = make_feature("DRAFT")["feature_name"]
    sign_in_trust(client, "developer", "dora")
    html = page(client, "/console/features/new")
    data = {
        "csrf_token": csrf_token(html),
        "feature_name": "no colons",
        "feature_type": "batch",
        "feature_data_type": "float",
        "query": "",
        "description": "Kept as typed",
    }
    response = client.post("/console/features/new", data=data)
    assert response.status_code == 422
    html = html_lib.unescape(response.get_data(as_text=True))
    name_error = re.search(r'<p class="field-error" id="new-feature_name-error">(.*?)</p>', html)
    query_error = re.search(r'<p class="field-error" id="new-query-error">(.*?)</p>', html)
    assert name_error and "<view>:<feature>:<version>" in name_error.group(1)
    assert query_error and "Missing data for required field." in query_error.group(1)
    assert "Kept as typed" in html and 'aria-invalid="true"' in html
    response = client.post(
        "/console/features/new",
        data={**data, "feature_name": existing, "query": "SELECT 1 FROM t"},
    )
    assert response.status_code == 409
    assert "already exists" in html_lib.unescape(response.get_data(as_text=True))


def test_only_a_developer_may_create_and_a_form_without_csrf_is_refused(client):
    sign_in_trust(client, "approver", "carol")
    html = page(client, "/console/features/new", status=403)
    assert "needs the developer role" in html
    assert '<form method="post"' not in html.split("<main>")[1]
    assert 'href="/console/features/new"' not in page(client, "/console/queue")
    sign_in_trust(client, "developer", "dora")
    response = client.post("/console/features/new", data={"feature_name": "x:y:1"})
    assert response.status_code == 400


def test_queue_rows_give_the_ownership_and_independent_approval_reasons(client, make_feature, app):
    teams = make_feature("DRAFT", created_by="dora", owner="growth")
    own = make_feature("TEST_SUCCEEDED", created_by="alice", owner="carol")
    # Made under the default governance; then the app enforces ownership and independence.
    shared = app.extensions[EXTENSION]
    settings = dataclasses.replace(shared.settings, ownership="enforced", approval="independent")
    app.extensions[EXTENSION] = dataclasses.replace(shared, settings=settings)
    try:
        sign_in_trust(client, "developer", "dora")
        rows = _rows(page(client, "/console/queue"), "developer")
        (row,) = [r for r in rows if r.startswith(teams["feature_name"] + " ")]
        assert "growth owns this feature and you are not a member of growth" in row
        sign_in_trust(client, "approver", "carol")
        rows = _rows(page(client, "/console/queue"), "approver")
        (row,) = [r for r in rows if r.startswith(own["feature_name"] + " ")]
        assert "You own this feature: another approver must approve it." in row
        html = html_lib.unescape(page(client, feature_path(own["feature_name"])))
        assert action_path(own["feature_name"], "approve") not in form_actions(html)
    finally:
        app.extensions[EXTENSION] = shared


def test_in_token_mode_a_developer_creates_a_feature_for_their_group_and_not_for_another(
    token_app, token_client, issue_token, connection
):
    from sqlalchemy import text

    token = issue_token("developer", principal="Dora", groups=["growth"])
    shared = token_app.extensions[EXTENSION]
    settings = dataclasses.replace(shared.settings, ownership="enforced")
    token_app.extensions[EXTENSION] = dataclasses.replace(shared, settings=settings)
    try:
        sign_in_token(token_client, token)
        form = {
            "feature_type": "batch",
            "feature_data_type": "float",
            "query": "SELECT trips FROM driver_stats",
            "description": "Trips per driver",
        }
        html = page(token_client, "/console/features/new")
        refused = token_client.post(
            "/console/features/new",
            data={
                **form,
                "csrf_token": csrf_token(html),
                "feature_name": "token_made:other:1",
                "owner": "pricing",
            },
        )
        assert refused.status_code == 403
        owner_error = re.search(
            r'id="new-owner-error">(.*?)</p>', refused.get_data(as_text=True), re.S
        )
        assert owner_error and "Dora is not a member of pricing" in owner_error.group(1)
        made = token_client.post(
            "/console/features/new",
            data={
                **form,
                "csrf_token": csrf_token(html),
                "feature_name": "token_made:trips:1",
                "owner": "growth",
            },
        )
        assert made.status_code == 302
    finally:
        token_app.extensions[EXTENSION] = shared
    row = connection.execute(
        text(
            "SELECT f.created_by, f.owner, a.authenticated, a.credential FROM features f"
            " JOIN feature_audit a ON a.feature_id = f.id WHERE f.feature_name = :n"
        ),
        {"n": "token_made:trips:1"},
    ).one()
    assert tuple(row) == ("Dora", "growth", True, f"token:{token.split('_')[1]}")
    assert (
        connection.execute(
            text("SELECT count(*) FROM features WHERE feature_name = 'token_made:other:1'")
        ).scalar_one()
        == 0
    )
