"""The console's pages: list, queues, the feature page, errors and headers (SPEC §10)."""

from __future__ import annotations

import html as html_lib
import re

from feature_gateway.console.listing import DATE_FILTERS, FILTER_PARAMETERS
from tests.console.support import feature_path, flashes, page, sign_in_token, sign_in_trust


def test_the_feature_list_filters_by_status_and_search(client, make_feature):
    draft = make_feature("DRAFT", description="Share of trips that zebras accepted")
    tested = make_feature("TEST_SUCCEEDED")
    sign_in_trust(client, "approver", "carol")
    html = page(client, "/console/features?status=TEST_SUCCEEDED")
    assert tested["feature_name"] in html and draft["feature_name"] not in html
    html = page(client, "/console/features?search=zebras+accepted")
    assert draft["feature_name"] in html and tested["feature_name"] not in html
    # several statuses, as a multiple select sends them
    html = page(client, "/console/features?status=DRAFT&status=TEST_SUCCEEDED")
    assert draft["feature_name"] in html and tested["feature_name"] in html


def test_the_feature_list_filters_by_owner_tags_and_date(client, make_feature):
    mine = make_feature("DRAFT", owner="pricing-team", tags={"team": "pricing"})
    other = make_feature("DRAFT")
    sign_in_trust(client, "developer", "alice")
    html = page(client, "/console/features?owner=pricing-team")
    assert mine["feature_name"] in html and other["feature_name"] not in html
    html = page(client, "/console/features?tag=team:pricing")
    assert mine["feature_name"] in html and other["feature_name"] not in html
    html = page(client, "/console/features?created_after=2000-01-01&created_before=2000-01-02")
    assert mine["feature_name"] not in html and "0 features" in html


def test_the_feature_list_sorts_and_pages_with_links_that_keep_the_filters(client, make_feature):
    made = [make_feature("DRAFT", owner="paging-team")["feature_name"] for _ in range(3)]
    sign_in_trust(client, "developer", "alice")
    html = page(client, "/console/features?owner=paging-team&sort=-feature_name&limit=25")
    positions = [html.index(name) for name in sorted(made, reverse=True)]
    assert positions == sorted(positions)
    first = page(client, "/console/features?owner=paging-team&limit=2")
    assert "3 features, showing 1\N{EN DASH}2" in first
    assert (
        'rel="next" href="/console/features?owner=paging-team&amp;limit=2&amp;offset=2"' in first
    )
    second = page(client, "/console/features?owner=paging-team&limit=2&offset=2")
    assert (
        "showing 3\N{EN DASH}3" in second and 'rel="prev"' in second and 'rel="next"' not in second
    )


def test_an_invalid_filter_is_a_readable_422_on_the_list_page(client):
    sign_in_trust(client, "developer", "alice")
    response = client.get("/console/features?status=NOPE&limit=5000")
    assert response.status_code == 422
    text = html_lib.unescape(response.get_data(as_text=True))
    assert "The search has invalid filters" in text and "status" in text and "limit" in text


def test_the_approver_queue_holds_the_tested_features(client, make_feature):
    tested = make_feature("TEST_SUCCEEDED")
    ready = make_feature("READY_FOR_TESTING")
    sign_in_trust(client, "approver", "carol")
    html = page(client, "/console/queue")
    assert "Waiting for approval" in html
    assert tested["feature_name"] in html and ready["feature_name"] not in html


def test_the_testing_system_queue_holds_the_features_ready_for_testing(client, make_feature):
    tested = make_feature("TEST_SUCCEEDED")
    ready = make_feature("READY_FOR_TESTING")
    sign_in_trust(client, "external_testing_system", "qa-bot")
    html = page(client, "/console/queue")
    assert ready["feature_name"] in html and tested["feature_name"] not in html


def test_the_developer_queue_holds_only_their_own_drafts_failures_and_rejections(
    client, make_feature
):
    own = [
        make_feature(s, created_by="dora")["feature_name"]
        for s in ("DRAFT", "TEST_FAILED", "REJECTED")
    ]
    waiting = make_feature("READY_FOR_TESTING", created_by="dora")["feature_name"]
    someone_elses = make_feature("DRAFT", created_by="sam")["feature_name"]
    sign_in_trust(client, "developer", "dora")
    html = page(client, "/console/queue")
    assert all(name in html for name in own)
    assert waiting not in html and someone_elses not in html


def test_the_feature_page_shows_every_field_the_query_owner_tags_history_and_change_log(
    client, make_feature
):
    feature = make_feature("TEST_SUCCEEDED", owner="pricing-team", tags={"team": "pricing"})
    sign_in_trust(client, "approver", "carol")
    html = html_lib.unescape(page(client, feature_path(feature["feature_name"])))
    assert f'<pre class="query"><code>{feature["query"]}</code></pre>' in html
    assert "pricing-team" in html and "team: pricing" in html
    for label in (
        "Created by",
        "Submitted by",
        "Tested by",
        "Test result",
        "Revision",
        "Previous version",
        "Replaced by",
        "Deprecation reason",
    ):
        assert f'<th scope="row">{label}</th>' in html, label
    assert 'class="status status-test_succeeded">TEST_SUCCEEDED</span>' in html
    timeline = html[
        html.index('<ol class="timeline">') : html.index(
            "</ol>", html.index('<ol class="timeline">')
        )
    ]
    assert [t for t in ("create", "submit", "test") if f"<strong>{t}</strong>" in timeline] == [
        "create",
        "submit",
        "test",
    ]
    changes = html[html.index('<ol class="changes">') :]
    assert "r1 <strong>create</strong>" in changes and "<strong>test</strong>" in changes
    assert "This is the first version" in html


def test_the_feature_page_shows_a_coloured_diff_against_the_previous_version(client, make_feature):
    first = make_feature("DEPLOYED")
    created = client.post(
        "/create_feature_version",
        json={
            "feature_name": first["feature_name"],
            "created_by": "alice",
            "user_role": "developer",
            "query": "SELECT conv_rate FROM driver_hourly_stats\nWHERE trips > 0",
            "description": "only active drivers",
        },
    )
    assert created.status_code == 201, created.get_json()
    second = created.get_json()["metadata"]["feature_name"]
    sign_in_trust(client, "approver", "carol")
    html = html_lib.unescape(page(client, feature_path(second)))
    assert f"Compared with <a href=\"{feature_path(first['feature_name'])}\">" in html
    assert '<span class="diff-add">+WHERE trips > 0</span>' in html
    assert '<span class="diff-remove">-' in html
    assert '<span class="diff-file">--- ' + first["feature_name"] in html
    assert "only active drivers</td>" in html
    versions = html[html.index('<ul class="versions">') :]
    assert f'<a href="{feature_path(first["feature_name"])}">' in versions
    assert f"<strong>{second}</strong> (this one)" in versions


def test_an_unknown_feature_is_an_html_404_page(client):
    sign_in_trust(client, "approver", "carol")
    for path in (
        "/console/features/nope:nothing:1",
        "/console/features/not a name",
        "/console/nothing-here",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "text/html"
        assert "<h1>" in response.get_data(as_text=True)


def test_console_pages_carry_a_strict_content_security_policy_and_no_store(client, make_feature):
    feature = make_feature()
    for path in ("/console/sign-in",):
        response = client.get(path)
        _assert_security_headers(response)
    sign_in_trust(client, "approver", "carol")
    for path in (
        "/console/queue",
        "/console/features",
        feature_path(feature["feature_name"]),
        "/console/features/nope:nothing:1",
        "/console/features/new",  # 403 for an approver
        "/console/find?q=nothing",
        "/console/features?search=&owner=",
    ):
        _assert_security_headers(client.get(path))
    sign_in_trust(client, "developer", "dora")
    _assert_security_headers(client.get("/console/features/new"))
    with client.get("/console/static/console.css") as css:
        assert css.status_code == 200 and css.mimetype == "text/css"
        assert css.headers["Content-Security-Policy"].startswith("default-src 'none'")


def _assert_security_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ):
        assert directive in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_script_and_no_external_asset(client, make_feature):
    feature = make_feature("TEST_SUCCEEDED")
    sign_in_trust(client, "approver", "carol")
    for path in ("/console/queue", "/console/features", feature_path(feature["feature_name"])):
        html = page(client, path)
        assert "<script" not in html and "style=" not in html
        assert "http://" not in html and "https://" not in html


def test_the_api_gets_no_session_cookie_and_needs_no_csrf_token(client, token_client, issue_token):
    response = client.post(
        "/create_feature_metadata",
        json={
            "feature_name": "csrf_free:api:1",
            "feature_type": "batch",
            "feature_data_type": "float",
            "query": "SELECT 1",
            "description": "d",
            "created_by": "dev",
            "user_role": "developer",
        },
    )
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    token = issue_token("developer")
    sign_in_token(token_client, token)  # a browser holding a console session...
    response = token_client.get(
        "/get_all_feature_metadata", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    # ...is still no way into the API: the session cookie is not a bearer token.
    assert token_client.get("/get_all_feature_metadata").status_code == 401


def test_the_access_line_of_a_console_page_names_the_signed_in_person(client, caplog):
    import logging

    sign_in_trust(client, "approver", "carol")
    with caplog.at_level(logging.INFO, logger="feature_gateway.access"):
        page(client, "/console/queue")
    lines = [r for r in caplog.records if r.name == "feature_gateway.access"]
    assert lines and lines[-1].principal == "carol" and lines[-1].status == 200


def test_a_flash_message_is_shown_once(client):
    sign_in_trust(client, "developer", "alice")
    assert flashes(page(client, "/console/queue")) == ["Signed in as alice (developer)."]
    assert flashes(page(client, "/console/queue")) == []


def test_the_search_form_has_a_control_for_every_list_filter_and_page_size(client):
    sign_in_trust(client, "developer", "alice")
    html = page(client, "/console/features")
    start = html.index('class="card search-form"')
    form = html[start : html.index("</form>", start)]
    controls = set(re.findall(r'<(?:input|select)[^>]* name="([^"]+)"', form))
    # offset is the paging links' (a form would start over at the first page)
    assert controls == set(FILTER_PARAMETERS) - {"offset"}
    assert {"status", "tag", *DATE_FILTERS} <= controls


def test_the_feature_page_says_who_reads_it_and_when_last(
    token_client, issue_token, make_feature, flush_usage, client
):
    name = make_feature("DEPLOYED")["feature_name"]
    for principal in ("ranker", "scorer", "pricer"):
        token = issue_token("developer", principal=principal)
        body = {"features": [name], "entities": {"id": [1]}}
        response = token_client.post(
            "/features", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
    flush_usage()
    unread = make_feature("DEPLOYED")["feature_name"]
    sign_in_trust(client, "approver", "carol")

    html = html_lib.unescape(page(client, feature_path(name)))
    quiet = html_lib.unescape(page(client, feature_path(unread)))

    assert "read by 3 consumers, last read just now" in html
    usage = html[html.index('<table class="usage">') :]
    assert '<th scope="row">ranker</th><td>1</td>' in usage
    assert "not read in the last 30 days" in quiet and "Nobody read it" in quiet


def test_how_long_ago_is_said_in_the_largest_whole_unit():
    from feature_gateway.console.pages import ago

    now = 1_751_414_400_000
    assert ago(now, now) == "just now"
    assert ago(now - 1_000, now) == "1 second ago"
    assert ago(now - 150_000, now) == "2 minutes ago"
    assert ago(now - 3 * 3_600_000 - 5, now) == "3 hours ago"
    assert ago(now - 86_400_000, now) == "1 day ago"
