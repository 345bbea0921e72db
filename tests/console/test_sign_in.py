"""Signing in and out of the console, in trust mode and in token mode (SPEC §10)."""

from __future__ import annotations

import base64
import html as html_lib
import zlib

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from feature_gateway import create_app
from feature_gateway.config import ConfigError, Settings
from feature_gateway.services import tokens
from tests.conftest import token_secret
from tests.console.support import csrf_token, flashes, page, sign_in_token, sign_in_trust


def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("fmg_console=")]
    assert cookies, response.headers
    return cookies[-1]


def _cookie_payload(cookie: str) -> str:
    """What a signed (not encrypted) Flask session cookie lets anyone read."""
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    compressed = value.startswith(".")
    data = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def test_a_visitor_who_is_not_signed_in_is_sent_to_the_sign_in_page(client):
    response = client.get("/console/queue")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in?next=/console/queue")
    assert client.get("/console/").headers["Location"] == "/console/sign-in"


def test_in_trust_mode_the_sign_in_page_asks_for_role_and_name_under_a_banner(client):
    html = page(client, "/console/sign-in")
    assert "anyone can act as anyone" in html
    assert '<label for="role">Role</label>' in html
    assert '<label for="name">Your name</label>' in html
    for role in ("developer", "external_testing_system", "approver"):
        assert f'value="{role}"' in html
    assert 'value="admin"' not in html  # nobody can claim admin


def test_signing_in_by_claim_opens_a_session_in_that_role(client):
    response = sign_in_trust(client, "approver", "carol")
    assert response.headers["Location"] == "/console/queue"
    html = page(client, "/console/queue")
    assert "Signed in as <strong>carol</strong>" in html
    assert "Waiting for approval" in html


def test_the_session_cookie_is_http_only_same_site_lax_scoped_to_the_console_for_8_hours(client):
    cookie = _session_cookie(sign_in_trust(client, "developer", "alice"))
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/console" in attributes
    assert "max-age=28800" in attributes or any(a.startswith("expires=") for a in attributes)
    assert "secure" not in attributes  # plain http: a Secure cookie would never come back


def test_over_https_the_session_cookie_is_secure(app):
    secure = app.test_client()
    html = secure.get("/console/sign-in", base_url="https://gateway.example").get_data(True)
    response = secure.post(
        "/console/sign-in",
        base_url="https://gateway.example",
        headers={"Referer": "https://gateway.example/console/sign-in"},
        data={"csrf_token": csrf_token(html), "role": "developer", "name": "alice"},
    )
    assert response.status_code == 302
    assert "secure" in [a.strip().lower() for a in _session_cookie(response).split(";")]


def test_behind_a_trusted_proxy_forwarded_https_makes_the_cookie_secure(
    database, migrated_database
):
    app = create_app(
        {
            "database": database,
            "database_url": migrated_database.url,
            "trusted_proxy_count": 1,
            "TESTING": True,
        }
    )
    client = app.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "Referer": "https://localhost/console/sign-in"}
    html = client.get("/console/sign-in", headers=forwarded).get_data(True)
    response = client.post(
        "/console/sign-in",
        headers=forwarded,
        data={"csrf_token": csrf_token(html), "role": "developer", "name": "alice"},
    )
    assert response.status_code == 302
    assert "secure" in [a.strip().lower() for a in _session_cookie(response).split(";")]


def test_a_blank_claimed_name_is_refused_with_the_api_rule(client):
    html = page(client, "/console/sign-in")
    response = client.post(
        "/console/sign-in", data={"csrf_token": csrf_token(html), "role": "approver", "name": "  "}
    )
    assert response.status_code == 401
    assert client.get("/console/queue").status_code == 302


def test_after_sign_in_the_console_returns_to_the_page_asked_for_but_never_off_site(client):
    html = page(client, "/console/sign-in?next=/console/features?status=DRAFT")
    token = csrf_token(html)
    ok = client.post(
        "/console/sign-in",
        data={
            "csrf_token": token,
            "role": "developer",
            "name": "a",
            "next": "/console/features?status=DRAFT",
        },
    )
    assert ok.headers["Location"] == "/console/features?status=DRAFT"
    for target in ("https://evil.example/", "//evil.example/console/", "/docs", "/console/\\evil"):
        html = page(client, "/console/sign-in")
        response = client.post(
            "/console/sign-in",
            data={
                "csrf_token": csrf_token(html),
                "role": "developer",
                "name": "a",
                "next": target,
            },
        )
        assert response.headers["Location"] == "/console/queue", target


def test_signing_out_ends_the_session(client):
    sign_in_trust(client, "developer", "alice")
    html = page(client, "/console/queue")
    response = client.post("/console/sign-out", data={"csrf_token": csrf_token(html)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/sign-in"
    assert "Signed out." in flashes(page(client, "/console/sign-in"))
    assert client.get("/console/queue").status_code == 302


def _copy_of_the_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("fmg_console", path="/console")
    assert cookie is not None
    return cookie.value


def _browser_with(app: Flask, cookie: str) -> FlaskClient:
    """Another browser, holding a copy of someone's console cookie."""
    other = app.test_client()
    other.set_cookie("fmg_console", cookie, path="/console")
    return other


def _sign_out(client: FlaskClient) -> None:
    html = page(client, "/console/queue")
    response = client.post("/console/sign-out", data={"csrf_token": csrf_token(html)})
    assert response.status_code == 302


def _refused(copy: FlaskClient) -> None:
    response = copy.get("/console/queue")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in")
    assert "This session has ended (signed out); sign in again." in flashes(
        page(copy, "/console/sign-in")
    )


def test_in_trust_mode_a_copy_of_the_cookie_taken_before_sign_out_is_refused_after_it(
    app, client, connection
):
    sign_in_trust(client, "approver", "carol")
    page(client, "/console/queue")
    copy = _browser_with(app, _copy_of_the_cookie(client))
    assert copy.get("/console/queue").status_code == 200  # the copy works while signed in
    _sign_out(client)
    _refused(copy)
    assert connection.execute(text("SELECT count(*) FROM console_sessions")).scalar() == 0


def test_in_token_mode_a_copy_of_the_cookie_taken_before_sign_out_is_refused_after_it(
    token_app, token_client, issue_token, connection
):
    sign_in_token(token_client, issue_token("approver", principal="carol"))
    page(token_client, "/console/queue")
    copy = _browser_with(token_app, _copy_of_the_cookie(token_client))
    assert copy.get("/console/queue").status_code == 200
    _sign_out(token_client)
    _refused(copy)
    assert connection.execute(text("SELECT count(*) FROM console_sessions")).scalar() == 0


def test_signing_in_again_ends_the_session_before_it(app, client):
    sign_in_trust(client, "developer", "alice")
    page(client, "/console/queue")
    before = _browser_with(app, _copy_of_the_cookie(client))
    sign_in_trust(client, "approver", "carol")
    assert client.get("/console/queue").status_code == 200
    _refused(before)


def test_a_session_is_one_row_on_the_server_and_expired_rows_are_purged_at_sign_in(
    client, connection
):
    from feature_gateway.services.clock import now_ms

    connection.execute(
        text("INSERT INTO console_sessions (session_id, principal, created_time, expires_time)"
             " VALUES ('old', 'bob', :created, :expired)"),
        {"created": now_ms() - 9 * 3600_000, "expired": now_ms() - 3600_000},
    )  # fmt: skip
    sign_in_trust(client, "developer", "alice")
    rows = connection.execute(
        text("SELECT principal, expires_time - created_time FROM console_sessions")
    ).all()
    assert [tuple(row) for row in rows] == [("alice", 8 * 3600_000)]


def test_in_token_mode_the_sign_in_page_asks_for_a_token_without_a_banner(token_client):
    html = page(token_client, "/console/sign-in")
    assert '<label for="token">API token</label>' in html
    assert 'type="password"' in html
    assert "anyone can act as anyone" not in html


def test_signing_in_with_a_token_keeps_its_id_and_never_the_token(token_client, issue_token):
    token = issue_token("approver", "developer", principal="dana")
    response = sign_in_token(token_client, token)
    stored = _cookie_payload(_session_cookie(response))
    token_id, secret = token.removeprefix("fmg_").split("_", 1)
    assert token_id in stored
    assert secret not in stored
    html = page(token_client, "/console/queue")
    assert "Signed in as <strong>dana</strong>" in html
    assert "Waiting for approval" in html and "Your features to submit or fix" in html
    assert secret not in html


def test_a_wrong_token_is_refused_without_echoing_it(token_client, issue_token):
    token = issue_token("approver")
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = sign_in_token(token_client, wrong, status=401)
    html = response.get_data(as_text=True)
    assert "Not signed in: The API token is not valid." in html_lib.unescape(html)
    assert wrong not in html and token_secret(wrong) not in html
    assert token_client.get("/console/queue").status_code == 302


def test_a_token_revoked_after_sign_in_ends_the_session_on_the_next_page(
    token_client, issue_token, database
):
    token = issue_token("approver", principal="erin")
    sign_in_token(token_client, token)
    assert token_client.get("/console/queue").status_code == 200
    tokens.revoke_token(database, token.removeprefix("fmg_").split("_", 1)[0])
    response = token_client.get("/console/queue")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in")
    assert "Signed out: your API token has been revoked." in flashes(
        page(token_client, "/console/sign-in")
    )


def test_an_expired_token_cannot_sign_in(token_client, issue_token, database):
    from feature_gateway.services.clock import now_ms

    token = tokens.create_token(
        database,
        principal="old",
        roles=["approver"],
        created_by="t",
        expires_time=now_ms() + 1,
        now=now_ms() - 10,
    ).token
    import time

    time.sleep(0.01)
    html = sign_in_token(token_client, token, status=401).get_data(as_text=True)
    assert "expired" in html


def test_token_mode_refuses_to_serve_without_a_secret_key(database, migrated_database):
    token_mode = {
        "database": database,
        "database_url": migrated_database.url,
        "auth_mode": "token",
    }
    with pytest.raises(ConfigError, match="SECRET_KEY is required to serve with AUTH_MODE=token"):
        create_app(token_mode)
    with pytest.raises(ConfigError, match="at least 32 characters"):
        create_app({**token_mode, "secret_key": "short"})
    assert create_app({**token_mode, "secret_key": "k" * 32}).extensions


def test_token_mode_settings_without_a_secret_key_are_valid_for_the_cli_and_migrations():
    # Only serving the console needs the key (feature_gateway.serving).
    assert Settings.from_env({"AUTH_MODE": "token"}).token_mode


def test_the_secret_key_is_never_shown_by_the_settings_repr():
    settings = Settings.from_env({"AUTH_MODE": "token", "SECRET_KEY": "s3cr3t" * 8})
    assert "s3cr3t" not in repr(settings)


def test_a_session_ends_8_hours_after_sign_in_even_if_it_was_used_meanwhile(client, monkeypatch):
    from feature_gateway.console import identity
    from feature_gateway.services.clock import now_ms

    signed_in_at = now_ms()
    sign_in_trust(client, "developer", "alice")
    monkeypatch.setattr(identity, "now_ms", lambda: signed_in_at + 8 * 3600 * 1000 - 60_000)
    assert client.get("/console/queue").status_code == 200
    monkeypatch.setattr(identity, "now_ms", lambda: signed_in_at + 8 * 3600 * 1000 + 60_000)
    response = client.get("/console/queue")
    assert response.status_code == 302
    assert "Your session has expired after 8 hours; sign in again." in flashes(
        page(client, "/console/sign-in")
    )
