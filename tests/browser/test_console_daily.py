"""The console for daily use (SPEC §10, issue 22) in headless Chromium, at a laptop's width
(1280 px) and a phone's (390 px): who did what and how long each feature waited, no action
offered that would be refused (the reason instead), the header search, creating a feature,
and no page scrolling sideways on a phone. Screenshots under artifacts/ (console-daily-*).

Run with ``make test-browser``; the browser and the servers are test_console's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.test_console import (
    ARTIFACTS,
    LAPTOP,
    PHONE,
    _api,
    _click_and_wait,
    _flashes,
    _open,
    _sign_in_trust,
    _sign_out,
    _tested_feature,
    _text,
    browser,
    trust_server,
)
from tests.conftest import SEED_FEATURE
from tests.live_server import LiveServer

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

pytestmark = pytest.mark.browser
__all__ = ["browser", "trust_server"]  # the fixtures, shared with test_console

SIZES = {"1280": LAPTOP, "390": PHONE}


@pytest.fixture(params=sorted(SIZES), ids=lambda width: f"{width}px")
def width(request: pytest.FixtureRequest, browser: WebDriver) -> Iterator[str]:
    """Each test at a laptop's width and a phone's."""
    browser.set_window_size(*SIZES[request.param])
    yield request.param
    browser.set_window_size(*LAPTOP)


def _snap(browser: WebDriver, name: str, width: str) -> None:
    path = ARTIFACTS / f"console-daily-{name}-{width}.png"
    assert browser.save_screenshot(str(path))


def _fits(browser: WebDriver) -> None:
    """The page does not scroll sideways (at 390 px: SPEC §10, every page)."""
    scroll, inner, wide = browser.execute_script(
        "var w = window.innerWidth, wide = [];"
        "document.querySelectorAll('body *').forEach(function (e) {"
        "  var r = e.getBoundingClientRect();"
        "  if (r.right > w + 1) wide.push(e.tagName + '.' + e.className + ' ' + r.right);"
        "}); return [document.documentElement.scrollWidth, w, wide.slice(0, 5)];"
    )
    assert scroll <= inner, f"{browser.current_url} is {scroll} px wide in {inner} px: {wide}"


def _queue_row(browser: WebDriver, role: str, name: str) -> str:
    for row in browser.find_elements(By.CSS_SELECTOR, f"table.queue-{role} tbody tr"):
        if row.find_element(By.CSS_SELECTOR, "a.feature-link").text == name:
            return str(row.text)
    raise AssertionError(f"{name} is not in the {role} queue")


def test_an_approver_sees_who_did_what_and_is_not_offered_an_action_they_may_not_take(
    browser: WebDriver, trust_server: LiveServer, width: str
) -> None:
    server = trust_server
    theirs, mine = f"daily_{width}:theirs:1", f"daily_{width}:mine:1"
    _tested_feature(server, theirs, "dev", owner="growth")
    _tested_feature(server, mine, "alice")
    _sign_in_trust(browser, server, "approver", "alice")
    row = _queue_row(browser, "approver", theirs)
    for shown in ("growth", "dev", "qa", "waiting", "You may approve or reject"):
        assert shown in row, (shown, row)
    row = _queue_row(browser, "approver", mine)
    assert "You created this feature: another approver must approve it." in row
    assert "You may" not in row
    _fits(browser)
    _snap(browser, "queue", width)

    _open(browser, server, f"/console/features/{mine}")
    assert not browser.find_elements(By.CSS_SELECTOR, "form.action-approve")
    refused = browser.find_element(By.CSS_SELECTOR, "ul.not-offered").text
    assert "You created this feature: another approver must approve it." in refused
    _fits(browser)
    _snap(browser, "not-offered", width)

    _open(browser, server, f"/console/features/{theirs}")
    actions = browser.find_element(By.CSS_SELECTOR, "form.action-approve").rect["y"]
    fields = browser.find_element(By.ID, "fields").rect["y"]
    assert actions < fields, "the actions come before all the fields"
    assert not browser.find_element(By.CSS_SELECTOR, "details.unset table").is_displayed()
    _fits(browser)
    _snap(browser, "feature", width)
    _sign_out(browser)


def test_the_header_search_finds_a_feature_by_name_or_lists_the_matches(
    browser: WebDriver, trust_server: LiveServer, width: str
) -> None:
    name = f"search_{width}:needle:1"
    _tested_feature(trust_server, name, "dev")
    _sign_in_trust(browser, trust_server, "approver", "carol")
    browser.find_element(By.ID, "find").send_keys(name)
    _click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.find input[type=submit]"))
    assert browser.current_url == f"{trust_server.base_url}/console/features/{name}"
    browser.find_element(By.ID, "find").send_keys(f"search_{width}:need")
    _click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.find input[type=submit]"))
    assert browser.current_url.startswith(f"{trust_server.base_url}/console/features?search=")
    listed = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "table.features a")]
    assert listed == [name]
    _fits(browser)
    _snap(browser, "search", width)
    _sign_out(browser)


def test_a_developer_creates_a_feature_and_sees_the_api_messages_by_the_fields(
    browser: WebDriver, trust_server: LiveServer, width: str
) -> None:
    _sign_in_trust(browser, trust_server, "developer", "dora")
    _click_and_wait(browser, browser.find_element(By.LINK_TEXT, "New feature"))
    form = {
        "new-feature_name": "not a name",
        "new-query": "SELECT trips FROM driver_stats",
        "new-description": "Trips per driver",
    }
    for field, value in form.items():
        browser.find_element(By.ID, field).send_keys(value)
    _click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.create button"))
    error = browser.find_element(By.ID, "new-feature_name-error").text
    assert "<view>:<feature>:<version>" in error
    _fits(browser)
    _snap(browser, "create-invalid", width)
    name = browser.find_element(By.ID, "new-feature_name")
    name.clear()
    name.send_keys(f"created_{width}:trips:1")
    _click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.create button"))
    assert f"Feature created_{width}:trips:1 created (DRAFT)." in _flashes(browser)
    assert browser.find_element(By.CSS_SELECTOR, "p.summary .status").text == "DRAFT"
    _sign_out(browser)


def test_no_console_page_scrolls_sideways_at_a_phones_width(
    browser: WebDriver, trust_server: LiveServer
) -> None:
    server = trust_server
    long_name = "a_rather_long_view_name_for_phones:an_even_longer_feature_name_here:1"
    _tested_feature(server, long_name, "dev", owner="a-team-with-a-long-name")
    _api(
        server,
        "/create_feature_metadata",
        {
            "feature_name": "phone:failing:1",
            "feature_type": "batch",
            "feature_data_type": "float",
            "query": "SELECT x FROM " + "very_long_table_name_" * 5,
            "description": "A feature that fails its test",
            "created_by": "dora",
            "user_role": "developer",
        },
        201,
    )
    browser.set_window_size(*PHONE)
    try:
        _open(browser, server, "/console/sign-in")
        _fits(browser)
        _snap(browser, "sign-in", "390")
        pages = {
            "approver": ["/console/queue", "/console/features", f"/console/features/{long_name}"],
            "developer": [
                "/console/queue",
                "/console/features/new",
                "/console/features/phone:failing:1",
                "/console/features?status=DRAFT&status=TEST_SUCCEEDED&sort=-updated_time",
                "/console/no-such-page",
            ],
        }
        for role, paths in pages.items():
            _sign_in_trust(browser, server, role, "pat" if role == "approver" else "dora")
            for path in paths:
                _open(browser, server, path)
                _fits(browser)
                label = path.strip("/").replace("/", "-").split("?")[0].replace(":", "-")
                _snap(browser, f"{role}-{label}", "390")
            _sign_out(browser)
        # A full page of the list (50 cards) is shorter than the 6,400 px it was as a table.
        for number in range(50):
            body = {**SEED_FEATURE, "feature_name": f"phone_page:feature_{number:02}:1"}
            _api(server, "/create_feature_metadata", body, 201)
        _sign_in_trust(browser, server, "approver", "pat")
        _open(browser, server, "/console/features?search=phone_page")
        assert len(browser.find_elements(By.CSS_SELECTOR, "table.features tbody tr")) == 50
        _snap(browser, "list-page", "390")
        height = browser.execute_script("return document.documentElement.scrollHeight;")
        assert height < 6_400, f"50 cards are {height} px tall at 390 px"
        _fits(browser)
        # The filters fold behind one control, and unfold at a tap.
        _open(browser, server, "/console/features")
        statuses = browser.find_element(By.CSS_SELECTOR, "fieldset.statuses")
        assert not statuses.is_displayed()
        browser.find_element(By.CSS_SELECTOR, "label.fold-label").click()
        assert statuses.is_displayed()
        _fits(browser)
        _snap(browser, "filters-open", "390")
        assert "Filters" in _text(browser)
        _sign_out(browser)
    finally:
        browser.set_window_size(*LAPTOP)
