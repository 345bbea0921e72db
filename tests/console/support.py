"""Driving the console with Flask's test client: forms, their CSRF tokens, sign-in."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_FORM = re.compile(r'<form method="post"[^>]*action="([^"]+)"', re.S)


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def form_actions(html: str) -> list[str]:
    return [action.replace("&amp;", "&") for action in _FORM.findall(html)]


def revision_of(html: str, action: str) -> str:
    """The revision the form posting to ``action`` carries."""
    start = html.index(f'action="{action}"')
    found = re.search(r'name="revision" type="hidden" value="([0-9]+)"', html[start:])
    assert found, f"no revision in the form of {action}"
    return found.group(1)


def post_form(
    client: FlaskClient, from_page: str, action: str, data: dict[str, Any] | None = None
) -> TestResponse:
    """Post the form of ``from_page`` that goes to ``action``, as a browser would."""
    html = page(client, from_page)
    assert action in form_actions(html), f"{action} is not offered on {from_page}"
    body = {"csrf_token": csrf_token(html), **(data or {})}
    if "revision" not in body and 'name="revision"' in html[html.index(f'action="{action}"') :]:
        body["revision"] = revision_of(html, action)
    return client.post(action, data=body)


def sign_in_trust(client: FlaskClient, role: str, name: str) -> TestResponse:
    html = page(client, "/console/sign-in")
    response = client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_token(html), "role": role, "name": name, "next": ""},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def sign_in_token(client: FlaskClient, token: str, status: int = 302) -> TestResponse:
    html = page(client, "/console/sign-in")
    response = client.post(
        "/console/sign-in", data={"csrf_token": csrf_token(html), "token": token, "next": ""}
    )
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response


def feature_path(name: str) -> str:
    return f"/console/features/{name}"


def action_path(name: str, trigger: str) -> str:
    return f"/console/features/{name}/actions/{trigger}"


def flashes(html: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", m).strip()
        for m in re.findall(r'<p class="flash flash-\w+"[^>]*>(.*?)</p>', html, re.S)
    ]
