"""Single sign-on at the console in a real headless Chromium (SPEC §12): a real gunicorn in
token mode with OIDC on, a real OpenID provider (oidc-provider-mock) on loopback, and the
whole round trip clicked through: the link, the provider's form, signed in with the roles of
the groups, an approval, the sign-out through the provider's end-session page (which the
console's CSP form-action must let the sign-out's redirect reach), and a replayed callback
refused. Screenshots under artifacts/ (console-sso-*.png).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from feature_gateway.config import Settings
from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.services import tokens
from tests.browser import test_console
from tests.browser.test_console import _click_and_wait, _flashes, _open, _shot, _submit, _text
from tests.conftest import SEED_FEATURE, TEST_SECRET_KEY, migrate
from tests.live_server import LiveServer
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, ROLE_MAP, OidcProvider

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

pytestmark = pytest.mark.browser

FEATURE = "trips:sso_reviewed:1"
# The console tests' headless Chromium fixture, for this module too (pytest registers a
# fixture under the name it is found at).
browser = test_console.browser


@pytest.fixture(scope="module")
def sso_server(
    tmp_path_factory: pytest.TempPathFactory, oidc_provider: OidcProvider
) -> Iterator[LiveServer]:
    tmp_path: Path = tmp_path_factory.mktemp("console-sso")
    url = f"sqlite:///{tmp_path / 'console.db'}"
    migrate(url)
    server = LiveServer(
        url,
        workers=2,
        log_path=tmp_path / "gunicorn.log",
        extra_env={
            "AUTH_MODE": "token",
            "SECRET_KEY": TEST_SECRET_KEY,
            "OIDC_ISSUER": oidc_provider.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_ROLE_MAP": ROLE_MAP,
        },
    )
    _tested_feature(server, url)
    yield server
    server.stop()


def _tested_feature(server: LiveServer, url: str) -> None:
    """FEATURE by dev, passed by qa (their API tokens): waiting for an approver."""
    database = Database(make_engine(Settings(database_url=url)))
    dev, qa = (
        tokens.create_token(database, principal=name, roles=[role], created_by="test").token
        for name, role in (("dev", "developer"), ("qa", "external_testing_system"))
    )
    database.bind.dispose()
    steps: list[tuple[str, str, dict[str, Any], int]] = [
        (dev, "/create_feature_metadata", {**SEED_FEATURE, "feature_name": FEATURE}, 201),
        (dev, "/ready_test_feature_metadata", {"feature_name": FEATURE}, 200),
        (qa, "/test_feature_metadata",
         {"feature_name": FEATURE, "test_result": "TEST_SUCCEEDED"}, 200),
    ]  # fmt: skip
    for token, path, body, status in steps:
        body.pop("created_by", None)  # the token says who
        got, answer = server.request("POST", path, body, {"Authorization": f"Bearer {token}"})
        assert got == status, answer


def _at_provider(browser: WebDriver, provider: OidcProvider) -> None:
    """Click "Sign in with single sign-on" and land on the provider's form."""
    _click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Sign in with single sign-on"))
    assert browser.current_url.startswith(f"{provider.issuer}/oauth2/authorize?")


def test_a_person_signs_in_at_the_provider_approves_and_signs_out_there(
    browser: WebDriver, sso_server: LiveServer, oidc_provider: OidcProvider
) -> None:
    oidc_provider.set_user("alice-sub", preferred_username="alice", groups=["ml-approvers"])
    _open(browser, sso_server, "/console/sign-in")
    assert "API token" in _text(browser)  # the token sign-in stays, beside the link
    _shot(browser, "sso-sign-in")
    _at_provider(browser, oidc_provider)
    browser.find_element(By.CSS_SELECTOR, "input[name=sub]").send_keys("alice-sub")
    _shot(browser, "sso-provider-form")
    _click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Authorize']"))

    assert browser.current_url == f"{sso_server.base_url}/console/queue"
    assert "Signed in as alice (approver)." in _flashes(browser)
    assert FEATURE in _text(browser)
    _shot(browser, "sso-queue")

    _open(browser, sso_server, f"/console/features/{FEATURE}")
    _submit(browser, "approve")
    assert f"Feature approved and deployed: {FEATURE} is now DEPLOYED." in _flashes(browser)
    _shot(browser, "sso-approved")

    # The sign-out form's redirect goes on to the provider: blocked by form-action unless
    # the console's CSP allows the provider's origin there.
    _click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "header form button"))
    assert browser.current_url.startswith(f"{oidc_provider.issuer}/oauth2/end_session?")
    hint = parse_qs(urlsplit(browser.current_url).query)
    assert hint["post_logout_redirect_uri"] == [f"{sso_server.base_url}/console/sign-in"]
    assert hint["id_token_hint"][0].count(".") == 2
    _shot(browser, "sso-provider-end-session")
    _click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='End session']"))
    assert browser.current_url == f"{sso_server.base_url}/console/sign-in"
    assert "Signed out." in _flashes(browser)
    _open(browser, sso_server, "/console/queue")
    assert urlsplit(browser.current_url).path == "/console/sign-in"  # nobody signed in


def test_a_replayed_callback_and_a_refused_consent_end_on_the_sign_in_page(
    browser: WebDriver, sso_server: LiveServer, oidc_provider: OidcProvider
) -> None:
    oidc_provider.set_user("alice-sub", preferred_username="alice", groups=["ml-approvers"])
    _open(browser, sso_server, "/console/sign-in")
    _at_provider(browser, oidc_provider)
    # The provider's answer, caught on its way to the browser: the callback URL to replay.
    callback = httpx.post(browser.current_url, data={"sub": "alice-sub"}).headers["Location"]
    assert callback.startswith(f"{sso_server.base_url}/console/oidc/callback?")
    browser.get(callback)
    assert "Signed in as alice (approver)." in _flashes(browser)
    _click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "header form button"))
    _click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='End session']"))
    browser.get(callback)  # again: the first took its state
    assert urlsplit(browser.current_url).path == "/console/sign-in"
    assert any("unknown, expired or used already" in m for m in _flashes(browser))
    assert "Signed in as" not in _text(browser)
    _shot(browser, "sso-replayed-state")

    _at_provider(browser, oidc_provider)
    _click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Deny']"))
    assert urlsplit(browser.current_url).path == "/console/sign-in"
    assert any("refused at the provider" in m for m in _flashes(browser))
    assert "Signed in as" not in _text(browser)
    _shot(browser, "sso-refused-consent")
