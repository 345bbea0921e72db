"""The console's forms are bounded before werkzeug parses them (issue 26, SPEC §6: a worker's
memory, refused bodies included): werkzeug reads an urlencoded form whole, so a form larger
than any valid one, or of more fields than ``max_form_parts``, is the console's 413 page,
as a multipart form of too many parts is; the largest valid forms still go through."""

from __future__ import annotations

import html as html_lib
from urllib.parse import urlencode

from feature_gateway.console.forms import MAX_FORM_BYTES
from feature_gateway.shapes.schema_fields import MAX_DESCRIPTION_LENGTH, MAX_QUERY_LENGTH
from tests.console.support import csrf_token, feature_path, page, sign_in_trust
from tests.console.test_comments import comment_path, stored

URLENCODED = "application/x-www-form-urlencoded"
WIDE = "\U0001f600"  # 4 bytes of UTF-8: "%F0%9F%98%80", 12 bytes in a form


def _refused_page(response) -> str:
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "Request Entity Too Large" in text
    return text


def test_an_urlencoded_form_of_more_fields_than_allowed_is_a_413_page(
    client, make_feature, connection
):
    name = make_feature("READY_FOR_TESTING")["feature_name"]
    sign_in_trust(client, "approver", "carol")
    token = csrf_token(page(client, feature_path(name)))
    # 300,000 fields in 2 MB took a worker 55 MB higher while werkzeug parsed them.
    fields = b"&".join(b"c%d=1" % i for i in range(300_000))[:2_000_000]
    body = f"csrf_token={token}&body=hi&".encode() + fields
    _refused_page(client.post(comment_path(name), data=body, content_type=URLENCODED))
    # At werkzeug's max_form_parts (1,000) fields, the form is refused; one fewer is read.
    body = urlencode({"csrf_token": token, "body": "many", **{f"c{i}": "1" for i in range(998)}})
    assert body.count("&") == 999
    assert client.post(comment_path(name), data=body, content_type=URLENCODED).status_code == 302
    body += "&c998=1"
    _refused_page(client.post(comment_path(name), data=body, content_type=URLENCODED))
    assert [row[3] for row in stored(connection, name)] == ["many"]


def test_a_form_larger_than_any_valid_one_is_a_413_page(client, make_feature):
    name = make_feature("READY_FOR_TESTING")["feature_name"]
    sign_in_trust(client, "approver", "carol")
    token = csrf_token(page(client, feature_path(name)))
    body = urlencode({"csrf_token": token, "body": "x" * MAX_FORM_BYTES})
    _refused_page(client.post(comment_path(name), data=body, content_type=URLENCODED))


def test_the_largest_valid_create_form_is_still_read(client):
    # A query and a description at their limits, every character 4 bytes of UTF-8: the
    # largest form a valid request makes (1.3 MB), under MAX_FORM_BYTES.
    sign_in_trust(client, "developer", "dora")
    html = page(client, "/console/features/new")
    query = "SELECT '" + WIDE * (MAX_QUERY_LENGTH - 9) + "'"
    data = {
        "csrf_token": csrf_token(html),
        "feature_name": "console_made:wide:1",
        "feature_type": "batch",
        "feature_data_type": "string",
        "query": query,
        "description": WIDE * MAX_DESCRIPTION_LENGTH,
        "owner": "",
    }
    body = urlencode(data)
    assert 1_300_000 < len(body) < MAX_FORM_BYTES
    response = client.post("/console/features/new", data=body, content_type=URLENCODED)
    assert response.status_code == 302, html_lib.unescape(response.get_data(as_text=True))[:500]
    created = client.get("/get_feature_metadata/console_made:wide:1?user_role=developer")
    assert created.get_json()["metadata"]["query"] == query


def test_a_service_configured_below_the_form_bound_still_refuses_over_its_own_limit(
    app, client, make_feature, connection, monkeypatch
):
    # MAX_BODY_BYTES below MAX_FORM_BYTES: the console's bound must not raise it.
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 200_000)
    name = make_feature("READY_FOR_TESTING")["feature_name"]
    sign_in_trust(client, "approver", "carol")
    token = csrf_token(page(client, feature_path(name)))
    padded = urlencode({"csrf_token": token, "body": "padded", "pad": "x" * 300_000})
    _refused_page(client.post(comment_path(name), data=padded, content_type=URLENCODED))
    small = urlencode({"csrf_token": token, "body": "small", "pad": "x" * 100_000})
    assert client.post(comment_path(name), data=small, content_type=URLENCODED).status_code == 302
    assert [row[3] for row in stored(connection, name)] == ["small"]
