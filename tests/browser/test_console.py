"""The review console in a real headless Chromium against a real gunicorn (SPEC §10).

Run with ``pytest -m browser tests/browser`` (``make test-browser``); deselected by default.
Drives Debian's Chromium through Debian's chromium-driver with Selenium (no browser is
downloaded); skips when either is missing. External hosts are unresolvable for the
browser, so the pages pass only if the service serves all they need. Screenshots of each
page are kept under artifacts/ (console-*.png).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from feature_gateway.config import Settings
from feature_gateway.db.engine import make_engine
from feature_gateway.db.scopes import Database
from feature_gateway.services import tokens
from tests.conftest import SEED_FEATURE, TEST_SECRET_KEY, migrate
from tests.live_server import LiveServer

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = ("chromium", "chromium-browser")
DRIVER = "chromedriver"
LAPTOP, PHONE = (1280, 1400), (390, 844)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    binary = next((shutil.which(name) for name in CHROMIUM if shutil.which(name)), None)
    driver_path = shutil.which(DRIVER)
    if binary is None or driver_path is None:
        pytest.skip(
            "Chromium and its driver are not installed (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-sync",
        "--disable-component-update",
        f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        # Only the service is reachable: a page that needed anything remote breaks.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def _server(tmp_path: Path, extra_env: dict[str, str]) -> tuple[LiveServer, str]:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    migrate(url)
    server = LiveServer(url, workers=2, log_path=tmp_path / "gunicorn.log", extra_env=extra_env)
    return server, url


@pytest.fixture(scope="module")
def trust_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Two workers and no SECRET_KEY: gunicorn.conf.py gives both the same key for the run.
    server, _ = _server(tmp_path_factory.mktemp("console-trust"), {"AUTH_MODE": "trust"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    server, url = _server(
        tmp_path_factory.mktemp("console-token"),
        {"AUTH_MODE": "token", "SECRET_KEY": TEST_SECRET_KEY},
    )
    database = Database(make_engine(Settings(database_url=url)))
    token = tokens.create_token(
        database, principal="tara", roles=["approver"], created_by="test"
    ).token
    database.bind.dispose()
    yield server, token
    server.stop()


def _api(server: LiveServer, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    got, answer = server.request("POST", path, body)
    assert got == status, answer
    return answer["metadata"]  # type: ignore[no-any-return]


def _tested_feature(server: LiveServer, name: str, author: str, **fields: Any) -> None:
    """A feature by ``author``, submitted by them and passed by qa: TEST_SUCCEEDED."""
    _api(
        server,
        "/create_feature_metadata",
        {**SEED_FEATURE, "feature_name": name, "created_by": author, **fields},
        201,
    )
    _walk_to_tested(server, name, author)


def _walk_to_tested(server: LiveServer, name: str, author: str) -> None:
    _api(
        server,
        "/ready_test_feature_metadata",
        {"feature_name": name, "submitted_by": author, "user_role": "developer"},
    )
    _api(
        server,
        "/test_feature_metadata",
        {
            "feature_name": name,
            "test_result": "TEST_SUCCEEDED",
            "tested_by": "qa",
            "user_role": "external_testing_system",
            "test_notes": "row counts match",
        },
    )


def _open(browser: WebDriver, server: LiveServer, path: str) -> None:
    browser.get(server.base_url + path)


def _text(browser: WebDriver) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def _flashes(browser: WebDriver) -> list[str]:
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, "p.flash")]


def _shot(browser: WebDriver, name: str, size: tuple[int, int] = LAPTOP) -> None:
    browser.set_window_size(*size)
    path = ARTIFACTS / f"console-{name}.png"
    assert browser.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    browser.set_window_size(*LAPTOP)


def _click_and_wait(browser: WebDriver, element: WebElement) -> None:
    """Click a button that submits a form, and wait until the next page has replaced this
    one (a page still on screen would be read as the answer)."""
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 20).until(_replaced(page))


def _replaced(page: WebElement) -> Callable[[WebDriver], bool]:
    """``staleness_of``, also for the other answer ChromeDriver gives while the new page
    is coming in: the old node "does not belong to the document" (a WebDriverException
    instead of a stale element; seen in CI), which says the same."""

    def gone(_browser: WebDriver) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" not in (exc.msg or ""):
                raise
            return True
        return False

    return gone


def _sign_in_trust(browser: WebDriver, server: LiveServer, role: str, name: str) -> None:
    _open(browser, server, "/console/sign-in")
    browser.find_element(By.ID, "role").send_keys(role)
    browser.find_element(By.ID, "name").send_keys(name)
    _click_and_wait(
        browser, browser.find_element(By.CSS_SELECTOR, "form.card button[type=submit]")
    )


def _sign_out(browser: WebDriver) -> None:
    button = browser.find_element(By.CSS_SELECTOR, "header form[action$='/sign-out'] button")
    _click_and_wait(browser, button)


def _submit(browser: WebDriver, trigger: str) -> None:
    button = browser.find_element(By.CSS_SELECTOR, f"form.action-{trigger} button[type=submit]")
    _click_and_wait(browser, button)


def test_an_approver_finds_reads_and_approves_a_feature_and_sees_it_deployed(
    browser: WebDriver, trust_server: LiveServer
) -> None:
    server = trust_server
    first = "trips:acceptance_rate:1"
    _tested_feature(server, first, "dev", description="Share of offered trips accepted")
    _api(
        server,
        "/approve_feature_metadata",
        {"feature_name": first, "approved_by": "boss", "user_role": "approver"},
    )
    second = _api(
        server,
        "/create_feature_version",
        {
            "feature_name": first,
            "created_by": "dev",
            "user_role": "developer",
            "query": "SELECT acceptance_rate FROM trips\nWHERE city = ?",
            "description": "Share of offered trips accepted, per city",
        },
        201,
    )["feature_name"]
    _walk_to_tested(server, second, "dev")

    _sign_in_trust(browser, server, "approver", "carol")
    assert "anyone can act as anyone" in _text(browser)
    assert "Signed in as carol (approver)." in _flashes(browser)
    assert second in _text(browser)  # the approver's queue
    _shot(browser, "queue")

    _open(browser, server, "/console/features")
    browser.find_element(By.ID, "search").send_keys("per city")
    _click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.search-form button"))
    listed = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.features td a")]
    assert listed == [second]
    _shot(browser, "list")

    _click_and_wait(browser, browser.find_element(By.LINK_TEXT, second))
    added = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "pre.diff .diff-add")]
    assert "+WHERE city = ?" in added
    colour = browser.find_element(By.CSS_SELECTOR, "pre.diff .diff-add").value_of_css_property(
        "background-color"
    )
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent")  # the stylesheet is applied
    timeline = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "ol.timeline strong")]
    assert timeline == ["create", "submit", "test"]
    assert "row counts match" in _text(browser)
    _shot(browser, "feature")
    _shot(browser, "feature-phone", PHONE)
    browser.set_window_size(*PHONE)
    overflow = browser.execute_script(
        "var w = document.documentElement.clientWidth, wide = [];"
        "document.querySelectorAll('body *').forEach(function (e) {"
        "  if (e.getBoundingClientRect().right > w + 1) wide.push(e.tagName + '.' + e.className);"
        "}); return wide;"
    )
    browser.set_window_size(*LAPTOP)
    assert overflow == [], "the feature page scrolls sideways at phone width"

    browser.find_element(By.ID, "approve-approval_notes").send_keys("diff reviewed")
    _submit(browser, "approve")
    assert f"Feature approved and deployed: {second} is now DEPLOYED." in _flashes(browser)
    assert browser.find_element(By.CSS_SELECTOR, "p.summary .status").text == "DEPLOYED"
    timeline = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "ol.timeline strong")]
    assert timeline == ["create", "submit", "test", "approve", "deploy"]
    _shot(browser, "deployed")
    _sign_out(browser)


def test_the_author_is_not_offered_approving_their_own_feature_and_is_told_why(
    browser: WebDriver, trust_server: LiveServer
) -> None:
    name = "trips:own_work:1"
    _tested_feature(trust_server, name, "alice")
    _sign_in_trust(browser, trust_server, "approver", "alice")
    _open(browser, trust_server, f"/console/features/{name}")
    assert not browser.find_elements(By.CSS_SELECTOR, "form.action-approve")
    assert "You created this feature: another approver must approve it." in _text(browser)
    assert browser.find_element(By.CSS_SELECTOR, "p.summary .status").text == "TEST_SUCCEEDED"
    _shot(browser, "separation-of-duties")
    _sign_out(browser)


def test_a_page_left_open_while_someone_else_changes_the_feature_refuses_the_approval(
    browser: WebDriver, trust_server: LiveServer
) -> None:
    name = "trips:changing:1"
    _tested_feature(trust_server, name, "dev")
    _sign_in_trust(browser, trust_server, "approver", "carol")
    _open(browser, trust_server, f"/console/features/{name}")
    _api(
        trust_server,
        "/update_feature_metadata",
        {  # someone else, meanwhile
            "feature_name": name,
            "description": "changed meanwhile",
            "last_updated_by": "dev",
            "user_role": "developer",
        },
    )
    _submit(browser, "approve")
    assert any("changed since you loaded it — reload" in m for m in _flashes(browser))
    assert "changed meanwhile" in _text(browser)  # the page now shows what changed
    assert browser.find_element(By.CSS_SELECTOR, "p.summary .status").text == "TEST_SUCCEEDED"
    _shot(browser, "stale")
    _sign_out(browser)


class _ForeignSite:
    """Another site's page with a form posting to the console without a CSRF token."""

    def __init__(self, action: str, revision: str) -> None:
        body = (
            f'<!doctype html><form method="post" action="{action}">'
            f'<input type="hidden" name="revision" value="{revision}">'
            '<button type="submit" id="go">Win a prize</button></form>'
        ).encode()

        class Page(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_a_post_without_the_csrf_token_is_refused(
    browser: WebDriver, trust_server: LiveServer
) -> None:
    name = "trips:forged:1"
    _tested_feature(trust_server, name, "dev")
    _sign_in_trust(browser, trust_server, "approver", "carol")
    revision = str(
        _api(
            trust_server, "/get_feature_metadata", {"feature_name": name, "user_role": "approver"}
        )["revision"]
    )
    foreign = _ForeignSite(
        f"{trust_server.base_url}/console/features/{name}/actions/approve", revision
    )
    try:
        browser.get(foreign.url)
        _click_and_wait(browser, browser.find_element(By.ID, "go"))
        assert "did not carry a valid CSRF token" in _text(browser)
        _shot(browser, "csrf-refused")
    finally:
        foreign.close()
    status = _api(
        trust_server, "/get_feature_metadata", {"feature_name": name, "user_role": "approver"}
    )["status"]
    assert status == "TEST_SUCCEEDED"


def test_in_token_mode_a_pasted_token_signs_in_and_sign_out_ends_the_session(
    browser: WebDriver, token_server: tuple[LiveServer, str]
) -> None:
    server, token = token_server
    _open(browser, server, "/console/queue")
    assert browser.current_url.startswith(server.base_url + "/console/sign-in")
    assert "anyone can act as anyone" not in _text(browser)
    _shot(browser, "sign-in-token")
    browser.find_element(By.ID, "token").send_keys(token)
    _click_and_wait(
        browser, browser.find_element(By.CSS_SELECTOR, "form.card button[type=submit]")
    )
    assert "Signed in as tara (approver)." in _flashes(browser)
    assert browser.current_url == server.base_url + "/console/queue"
    assert token not in browser.page_source
    cookie = browser.get_cookie("fmg_console")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert browser.execute_script("return document.cookie") == ""  # no script can read it
    _sign_out(browser)
    assert "Signed out." in _flashes(browser)
    _open(browser, server, "/console/queue")
    assert browser.current_url.startswith(server.base_url + "/console/sign-in")


def test_in_trust_mode_signing_out_ends_the_session(
    browser: WebDriver, trust_server: LiveServer
) -> None:
    _open(browser, trust_server, "/console/sign-in")
    _shot(browser, "sign-in-trust")
    _sign_in_trust(browser, trust_server, "developer", "dora")
    assert browser.current_url == trust_server.base_url + "/console/queue"
    _sign_out(browser)
    _open(browser, trust_server, "/console/features")
    assert browser.current_url.startswith(trust_server.base_url + "/console/sign-in")
