"""The console's "Sign in with single sign-on" (SPEC §12) against a real OpenID provider:
oidc-provider-mock on loopback, reached over HTTP by the service and by these tests, which
play the browser (the test client for the console, httpx for the provider's login form)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, text

from feature_gateway import create_app
from feature_gateway.config import parse_role_map
from feature_gateway.db.scopes import Database
from feature_gateway.services.identity_provider import HTTP_TIMEOUT, IdentityProvider
from feature_gateway.services.single_sign_on import code_challenge
from tests.conftest import TEST_SECRET_KEY, _bound
from tests.console.support import action_path, feature_path, flashes, page, post_form
from tests.databases import FreshDatabase, close_app
from tests.live_server import free_port
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, ROLE_MAP, OidcProvider

CALLBACK = "http://localhost/console/oidc/callback"  # the test client's base URL


def _sso_settings(issuer: str) -> dict[str, Any]:
    return {
        "auth_mode": "token",
        "secret_key": TEST_SECRET_KEY,
        "oidc_issuer": issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_role_map": ROLE_MAP,
    }


@contextmanager
def _sso_app_on(database_url: str, issuer: str, **settings: Any) -> Iterator[Flask]:
    """An app with OIDC on, built for a test or a module; its provider's HTTP client (kept
    connections to the provider) and its engine are closed afterwards."""
    with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as http:
        provider = IdentityProvider(issuer, role_map=parse_role_map(ROLE_MAP), client=http)
        app = create_app(
            {"database_url": database_url, "TESTING": True, "identity_provider": provider}
            | _sso_settings(issuer)
            | settings
        )
        try:
            yield app
        finally:
            close_app(app)


@pytest.fixture(scope="module")
def _sso_apps() -> Iterator[Callable[[str, str], Flask]]:
    """One app per database for the module (building one costs ~50 ms), closed with it."""
    built: dict[str, Flask] = {}
    with ExitStack() as stack:

        def app_for(database_url: str, issuer: str) -> Flask:
            if database_url not in built:
                built[database_url] = stack.enter_context(_sso_app_on(database_url, issuer))
            return built[database_url]

        yield app_for


@pytest.fixture
def sso_app(
    database: Database,
    migrated_database: FreshDatabase,
    oidc_provider: OidcProvider,
    _sso_apps: Callable[[str, str], Flask],
) -> Iterator[Flask]:
    """The app in token mode with OIDC on, pointing at the provider; on this test's database."""
    app = _sso_apps(migrated_database.url, oidc_provider.issuer)
    with _bound(app, database) as bound:
        yield bound


@pytest.fixture
def sso_client(sso_app: Flask) -> FlaskClient:
    return sso_app.test_client()


def _start(client: FlaskClient, next_path: str | None = None) -> str:
    """Click "Sign in with single sign-on": the provider's authorization URL."""
    path = "/console/oidc/sign-in" + (f"?{urlencode({'next': next_path})}" if next_path else "")
    response = client.get(path)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"]


def _authorize(authorization_url: str, sub: str) -> str:
    """Fill the provider's login form as ``sub``: the callback URL it sends the browser to."""
    form = httpx.get(authorization_url)
    assert form.status_code == 200, form.text
    response = httpx.post(authorization_url, data={"sub": sub})
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def _deny(authorization_url: str) -> str:
    response = httpx.post(authorization_url, data={"action": "deny"})
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def _callback(client: FlaskClient, callback_url: str) -> Any:
    assert callback_url.startswith(CALLBACK), callback_url
    return client.get(callback_url.removeprefix("http://localhost"))


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def _refused_with(client: FlaskClient, response: Any) -> str:
    """The callback ended on the sign-in page, nobody signed in: the message shown."""
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert response.headers["Location"] == "/console/sign-in"
    html = page(client, "/console/sign-in")
    assert "Signed in as" not in html
    assert client.get("/console/queue").status_code == 302  # still sent to sign in
    return " ".join(flashes(html))


@pytest.fixture
def approver(oidc_provider: OidcProvider) -> str:
    oidc_provider.set_user(
        "alice-sub", preferred_username="alice", groups=["ml-approvers", "unmapped-team"]
    )
    return "alice-sub"


def _sign_in(client: FlaskClient, sub: str, next_path: str | None = None) -> Any:
    return _callback(client, _authorize(_start(client, next_path), sub))


def _sessions(connection: Connection) -> list[tuple[str, str | None]]:
    return list(
        connection.execute(text("SELECT principal, id_token FROM console_sessions")).tuples()
    )


def test_with_oidc_on_the_sign_in_page_offers_single_sign_on_as_a_link_beside_the_token(
    sso_client, oidc_provider
):
    html = page(sso_client, "/console/sign-in")
    assert '<a class="button" href="/console/oidc/sign-in">Sign in with single sign-on</a>' in html
    assert '<label for="token">API token</label>' in html  # service accounts keep it
    # A plain link, not a form: a POST redirected to the provider would be held to
    # form-action. The provider's origin is allowed there for the sign-out's redirect.
    csp = sso_client.get("/console/sign-in").headers["Content-Security-Policy"]
    assert f"form-action 'self' {oidc_provider.issuer}" in csp


def test_without_oidc_neither_the_link_nor_the_routes_exist(token_client):
    html = page(token_client, "/console/sign-in")
    assert "single sign-on" not in html
    assert token_client.get("/console/oidc/sign-in").status_code == 404
    assert (
        "form-action 'self';"
        in token_client.get("/console/sign-in").headers["Content-Security-Policy"]
    )


def test_signing_in_at_the_provider_opens_a_session_with_the_roles_of_the_groups(
    sso_client, approver, connection
):
    response = _sign_in(sso_client, approver)
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/queue"
    html = page(sso_client, "/console/queue")
    assert "Signed in as alice (approver)." in flashes(html)
    assert "Signed in as <strong>alice</strong>" in html
    assert "Waiting for approval" in html
    [(principal, id_token)] = _sessions(connection)
    assert principal == "alice" and id_token and id_token.count(".") == 2
    lifetime = connection.execute(
        text("SELECT expires_time - created_time FROM console_sessions")
    ).scalar()
    assert lifetime == 8 * 3600 * 1000
    # The pending sign-in was taken by the callback.
    assert connection.execute(text("SELECT count(*) FROM oidc_sign_ins")).scalar() == 0


def test_the_authorization_request_is_a_code_flow_with_pkce_s256_a_fresh_state_and_nonce(
    sso_client, oidc_provider, connection
):
    first, second = _query(_start(sso_client)), _query(_start(sso_client))
    assert first["response_type"] == "code"
    assert first["client_id"] == CLIENT_ID
    assert first["redirect_uri"] == CALLBACK
    assert first["scope"].split()[0] == "openid"
    assert first["code_challenge_method"] == "S256"
    assert first["state"] != second["state"] and first["nonce"] != second["nonce"]
    nonce, verifier = connection.execute(
        text("SELECT nonce, code_verifier FROM oidc_sign_ins WHERE state = :s"),
        {"s": first["state"]},
    ).one()
    assert nonce == first["nonce"]
    assert first["code_challenge"] == code_challenge(verifier)
    assert verifier not in _start(sso_client)  # the verifier never leaves the server


def test_the_redirect_uri_is_under_public_base_url_when_set(
    database, migrated_database, oidc_provider
):
    with (
        _sso_app_on(
            migrated_database.url, oidc_provider.issuer, public_base_url="https://gateway.example/"
        ) as app,
        _bound(app, database) as bound,
    ):
        query = _query(_start(bound.test_client()))
    assert query["redirect_uri"] == "https://gateway.example/console/oidc/callback"


def test_a_next_address_longer_than_a_pending_sign_in_keeps_goes_to_the_queue(sso_client):
    # The pending sign-in keeps where to go after (2048 characters at most): a longer one,
    # typed or crafted, is no console page worth returning to, and never a 500.
    sso_client.get("/console/oidc/sign-in?" + urlencode({"next": "/console/" + "a" * 3000}))
    started = _start(sso_client, "/console/features?search=" + "b" * 3000)
    assert urlsplit(started).path.endswith("/authorize")  # on to the provider


def test_a_replayed_state_is_refused_even_with_a_copy_of_the_cookie_from_before_the_callback(
    sso_app, sso_client, approver, connection
):
    callback = _authorize(_start(sso_client), approver)
    copy = sso_app.test_client()
    copy.set_cookie(
        "fmg_console", sso_client.get_cookie("fmg_console", path="/console").value, path="/console"
    )
    assert _callback(sso_client, callback).headers["Location"] == "/console/queue"
    message = _refused_with(copy, _callback(copy, callback))
    assert "unknown, expired or used already" in message
    assert [principal for principal, _ in _sessions(connection)] == ["alice"]  # the first only


def test_an_unknown_state_is_refused(sso_client, approver):
    callback = _authorize(_start(sso_client), approver)
    forged = callback.replace(f"state={_query(callback)['state']}", "state=made-up")
    assert "unknown, expired or used already" in _refused_with(
        sso_client, _callback(sso_client, forged)
    )


def test_a_callback_started_in_another_browser_is_refused(sso_app, sso_client, approver):
    # Someone else's sign-in, slipped to this browser (login CSRF): its state is not ours.
    theirs = _authorize(_start(sso_app.test_client()), approver)
    _start(sso_client)
    assert "not started in this browser" in _refused_with(
        sso_client, _callback(sso_client, theirs)
    )


def test_a_refused_consent_ends_on_the_sign_in_page_with_the_providers_reason(sso_client):
    message = _refused_with(sso_client, _callback(sso_client, _deny(_start(sso_client))))
    assert "refused at the provider" in message
    assert "access_denied" in message


def test_an_id_token_for_another_nonce_is_refused(sso_client, approver, connection):
    callback = _authorize(_start(sso_client), approver)
    connection.execute(
        text("UPDATE oidc_sign_ins SET nonce = 'another-nonce' WHERE state = :s"),
        {"s": _query(callback)["state"]},
    )
    message = _refused_with(sso_client, _callback(sso_client, callback))
    assert "ID token was refused" in message
    assert _sessions(connection) == []


def test_a_code_the_token_endpoint_refuses_ends_on_the_sign_in_page(sso_client, approver):
    callback = _authorize(_start(sso_client), approver)
    forged = callback.replace(f"code={_query(callback)['code']}", "code=not-a-code")
    message = _refused_with(sso_client, _callback(sso_client, forged))
    assert "refused the sign-in code: invalid_grant" in message


def test_an_unreachable_provider_ends_on_the_sign_in_page(database, migrated_database):
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with _sso_app_on(migrated_database.url, nowhere) as app, _bound(app, database) as bound:
        client = bound.test_client()
        response = client.get("/console/oidc/sign-in")
        assert "cannot be reached" in _refused_with(client, response)


def test_a_sign_in_left_at_the_provider_for_more_than_10_minutes_is_refused(
    sso_client, approver, connection
):
    callback = _authorize(_start(sso_client), approver)
    connection.execute(
        text("UPDATE oidc_sign_ins SET expires_time = created_time + 1 WHERE state = :s"),
        {"s": _query(callback)["state"]},
    )
    assert "unknown, expired or used already" in _refused_with(
        sso_client, _callback(sso_client, callback)
    )


def test_a_provider_gone_between_the_sign_in_and_the_callback_ends_on_the_sign_in_page(
    database, migrated_database, tmp_path
):
    provider = OidcProvider(tmp_path / "provider.log")
    try:
        with (
            _sso_app_on(migrated_database.url, provider.issuer) as app,
            _bound(app, database) as bound,
        ):
            client = bound.test_client()
            callback = _authorize(_start(client), "someone")
            provider.stop()  # its token endpoint no longer answers
            message = _refused_with(client, _callback(client, callback))
        assert "token endpoint cannot be reached" in message
    finally:
        provider.stop()


def test_signing_out_ends_the_session_on_the_server_and_at_the_providers_end_session(
    sso_app, sso_client, approver, oidc_provider, connection
):
    _sign_in(sso_client, approver)
    [(_, id_token)] = _sessions(connection)
    copy = sso_app.test_client()
    copy.set_cookie(
        "fmg_console", sso_client.get_cookie("fmg_console", path="/console").value, path="/console"
    )
    assert "Signed in as <strong>alice</strong>" in page(copy, "/console/queue")

    response = post_form(sso_client, "/console/queue", "/console/sign-out")
    assert response.status_code == 302
    end_session = response.headers["Location"]
    assert end_session.startswith(f"{oidc_provider.issuer}/oauth2/end_session?")
    assert _query(end_session) == {
        "id_token_hint": id_token,
        "post_logout_redirect_uri": "http://localhost/console/sign-in",
    }
    assert _sessions(connection) == []
    # The provider's page ends its session and sends the browser back to the sign-in page.
    confirm = httpx.post(
        f"{oidc_provider.issuer}/oauth2/end_session/confirm",
        data={"redirect_uri": "http://localhost/console/sign-in"},
    )
    assert confirm.headers["Location"] == "http://localhost/console/sign-in"
    assert "Signed out." in flashes(page(sso_client, "/console/sign-in"))
    # A copy of the cookie taken before sign-out no longer works.
    assert copy.get("/console/queue").status_code == 302


def test_a_token_session_signs_out_here_only(sso_client, issue_token):
    from tests.console.support import sign_in_token

    sign_in_token(sso_client, issue_token("approver", principal="bot"))
    response = post_form(sso_client, "/console/queue", "/console/sign-out")
    assert response.headers["Location"] == "/console/sign-in"


def test_an_approval_is_recorded_as_the_provider_vouched_person_with_its_credential(
    sso_client, approver, make_feature, oidc_provider, connection
):
    name = make_feature("TEST_SUCCEEDED")["feature_name"]
    _sign_in(sso_client, approver)
    response = post_form(sso_client, feature_path(name), action_path(name, "approve"))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    html = page(sso_client, feature_path(name))
    assert "DEPLOYED" in html
    actor, authenticated, credential = connection.execute(
        text(
            "SELECT a.actor, a.authenticated, a.credential FROM feature_audit a "
            "JOIN features f ON f.id = a.feature_id WHERE f.feature_name = :n "
            "AND a.to_status = 'APPROVED'"
        ),
        {"n": name},
    ).one()
    assert (actor, bool(authenticated), credential) == (
        "alice",
        True,
        f"oidc:{oidc_provider.issuer}",
    )


def test_a_person_whose_groups_map_to_no_role_is_signed_in_but_offered_nothing(
    sso_client, oidc_provider, make_feature
):
    oidc_provider.set_user("dora-sub", preferred_username="dora", groups=["sales"])
    name = make_feature("TEST_SUCCEEDED")["feature_name"]
    _sign_in(sso_client, "dora-sub")
    html = page(sso_client, feature_path(name))
    assert "Signed in as <strong>dora</strong>" in html and "(no role)" in html
    assert action_path(name, "approve") not in html
