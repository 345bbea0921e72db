"""The front door at / (feature_gateway.front_door): a browser gets a page of links to the
console, the API documentation and the health check; other clients get the links as JSON."""

from __future__ import annotations

import re

import pytest

from feature_gateway.web.headers import SECURITY_HEADERS

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.fixture(params=["trust", "token"])
def any_client(request, client, token_client):
    return client if request.param == "trust" else token_client


def test_a_browser_at_the_root_gets_a_page_linking_the_console_the_docs_and_health(any_client):
    response = any_client.get("/", headers={"Accept": BROWSER})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    links = re.findall(r'<a href="([^"]+)"', html)
    assert links == ["/console/", "/docs", "/openapi.json", "/health"]
    # Nothing from elsewhere, no script: the console's policy holds for it too.
    assert re.findall(r'(?:src|href)="(?:https?:)?//', html) == []
    assert "<script" not in html
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["Vary"] == "Accept"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_a_json_client_at_the_root_gets_the_links_as_json(any_client, accept):
    response = any_client.get("/", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["links"] == {"console": "/console/", "docs": "/docs",
                             "openapi": "/openapi.json", "health": "/health"}  # fmt: skip
    assert body["service"] == "Feature Metadata Gateway"


def test_every_link_of_the_front_door_leads_somewhere_without_a_token(token_client):
    links = token_client.get("/", headers={"Accept": "application/json"}).get_json()["links"]
    for path in links.values():
        response = token_client.get(path, follow_redirects=True)
        assert response.status_code == 200, path


def test_the_root_takes_no_write(client):
    assert client.post("/", json={}).status_code == 405
