"""Comments on the feature page (SPEC §10): a labelled form with a CSRF token for whoever
holds a role that may comment, the comment in the timeline between the status changes by
time, the API's validation messages on a refusal, and the author as the API records it."""

from __future__ import annotations

import html as html_lib
import re

from sqlalchemy import text

from tests.console.support import (
    csrf_token,
    feature_path,
    flashes,
    form_actions,
    page,
    post_form,
    sign_in_token,
    sign_in_trust,
)


def comment_path(name: str) -> str:
    return f"/console/features/{name}/comments"


def stored(connection, name):
    rows = connection.execute(
        text(
            "SELECT c.author, c.author_role, c.authenticated, c.body FROM feature_comments c"
            " JOIN features f ON f.id = c.feature_id WHERE f.feature_name = :n ORDER BY c.id"
        ),
        {"n": name},
    )
    return [(a, r, bool(v), b) for a, r, v, b in rows]


def timeline(html: str) -> list[str]:
    """Each timeline entry as "trigger" or "comment: <body>", in the page's order."""
    block = html[html.index('<ol class="timeline">') : html.index("</ol>", html.index("timeline"))]
    entries = []
    for item in re.findall(r"<li[^>]*>(.*?)</li>", block, re.S):
        body = re.search(r'<blockquote class="comment-body">(.*?)</blockquote>', item, re.S)
        if body:
            entries.append(f"comment: {html_lib.unescape(body.group(1))}")
        else:
            entries.append(re.search(r"<strong>(\w+)</strong>", item).group(1))
    return entries


def test_a_comment_from_the_form_shows_in_the_timeline_between_status_changes(
    client, make_feature, connection
):
    name = make_feature("READY_FOR_TESTING")["feature_name"]
    sign_in_trust(client, "approver", "carol")
    html = page(client, feature_path(name))
    assert comment_path(name) in form_actions(html)
    assert '<label for="comment-body">' in html and 'id="comment-body"' in html
    response = post_form(client, feature_path(name), comment_path(name), {"body": "Why 7 days?"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{feature_path(name)}#timeline")
    tested = client.post("/test_feature_metadata", json={
        "feature_name": name, "test_result": "TEST_SUCCEEDED", "tested_by": "qa",
        "user_role": "external_testing_system"})  # fmt: skip
    assert tested.status_code == 200
    after = page(client, feature_path(name))
    assert "Your comment was added to the timeline." in flashes(after)
    assert timeline(after) == ["create", "submit", "comment: Why 7 days?", "test"]
    assert "by carol as approver (claimed)" in after
    assert stored(connection, name) == [("carol", "approver", False, "Why 7 days?")]


def test_a_comment_is_shown_as_text_with_its_line_breaks(client, make_feature):
    name = make_feature()["feature_name"]
    sign_in_trust(client, "developer", "dora")
    body = "<script>alert(1)</script>\r\nsecond line"
    post_form(client, feature_path(name), comment_path(name), {"body": body})
    html = page(client, feature_path(name))
    assert "<script>alert(1)</script>" not in html
    assert timeline(html)[-1] == "comment: <script>alert(1)</script>\nsecond line"


def test_a_blank_or_too_long_comment_shows_the_apis_message_and_stores_nothing(
    client, make_feature, connection
):
    name = make_feature()["feature_name"]
    sign_in_trust(client, "external_testing_system", "qa-bot")
    for body, message in ((" \r\n ", "Body: Must not be blank."),
                          ("x" * 10_001, "Body: Longer than maximum length 10000.")):  # fmt: skip
        response = post_form(client, feature_path(name), comment_path(name), {"body": body})
        assert response.status_code == 302
        shown = flashes(page(client, feature_path(name)))
        assert any(message in m for m in shown), shown
    assert stored(connection, name) == []


def test_a_comment_without_the_csrf_token_is_refused(client, make_feature, connection):
    name = make_feature()["feature_name"]
    sign_in_trust(client, "approver", "carol")
    for data in ({"body": "hi"}, {"body": "hi", "csrf_token": "forged"}):
        response = client.post(comment_path(name), data=data)
        assert response.status_code == 400
    assert stored(connection, name) == []


def test_signed_out_a_comment_goes_to_the_sign_in_page(client, make_feature, connection):
    name = make_feature()["feature_name"]
    html = page(client, "/console/sign-in")
    response = client.post(comment_path(name), data={"body": "hi", "csrf_token": csrf_token(html)})
    assert response.status_code == 302 and "sign-in" in response.headers["Location"]
    assert stored(connection, name) == []


def test_in_token_mode_the_comment_is_the_verified_principals(
    token_client, issue_token, make_feature, connection
):
    name = make_feature("DEPLOYED")["feature_name"]
    token = issue_token("developer", principal="Dora")
    sign_in_token(token_client, token)
    post_form(token_client, feature_path(name), comment_path(name), {"body": "Deployed at last"})
    html = page(token_client, feature_path(name))
    assert f"by Dora as developer (verified by token:{token.split('_')[1]})" in html
    assert stored(connection, name) == [("Dora", "developer", True, "Deployed at last")]


def test_in_token_mode_an_admin_reads_the_discussion_but_has_no_comment_form(
    token_client, issue_token, make_feature, connection
):
    name = make_feature()["feature_name"]
    sign_in_token(token_client, issue_token("admin", principal="root"))
    html = page(token_client, feature_path(name))
    assert comment_path(name) not in form_actions(html)
    assert "commenting takes a workflow role" in html
    response = token_client.post(
        comment_path(name), data={"body": "sneaky", "csrf_token": csrf_token(html)}
    )
    assert response.status_code == 302
    assert any("Refused:" in m for m in flashes(page(token_client, feature_path(name))))
    assert stored(connection, name) == []


def test_a_form_of_more_parts_than_allowed_is_a_413_page_not_a_500(client, make_feature):
    # werkzeug refuses a multipart body of over MAX_FORM_PARTS (1,000) parts while the CSRF
    # check reads it; the error page must not read the rest again (it was a 500: over 2,000
    # parts, the second reading failed too, inside the error handler).
    name = make_feature("READY_FOR_TESTING")["feature_name"]
    sign_in_trust(client, "approver", "carol")
    part = b'--b\r\nContent-Disposition: form-data; name="c"\r\n\r\n1\r\n'
    body = part * 2_500 + b"--b--\r\n"
    response = client.post(
        comment_path(name), data=body, content_type="multipart/form-data; boundary=b"
    )
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "Request Entity Too Large" in response.get_data(as_text=True)
