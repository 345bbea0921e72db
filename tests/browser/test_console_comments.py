"""Commenting on a feature in a real headless Chromium against a real gunicorn (SPEC §10):
a developer comments from the feature page with the keyboard-reachable, labelled form and
sees the comment in the timeline between the status changes; a blank comment shows the
API's message. Screenshots under artifacts/ (console-comment*.png)."""

from __future__ import annotations

import pytest

from tests.browser.test_console import (
    PHONE,
    _api,
    _click_and_wait,
    _flashes,
    _open,
    _shot,
    _sign_in_trust,
    _sign_out,
    _tested_feature,
    browser,
    trust_server,
)
from tests.live_server import LiveServer

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

pytestmark = pytest.mark.browser
__all__ = ["browser", "trust_server"]  # the fixtures this module uses, shared


def _timeline(browser: WebDriver) -> list[str]:
    entries = []
    for item in browser.find_elements(By.CSS_SELECTOR, "ol.timeline > li"):
        if "comment" in (item.get_attribute("class") or ""):
            entries.append("comment: " + item.find_element(By.CSS_SELECTOR, "blockquote").text)
        else:
            entries.append(item.find_element(By.CSS_SELECTOR, "strong").text)
    return entries


def _comment(browser: WebDriver, body: str) -> None:
    field = browser.find_element(By.CSS_SELECTOR, "label[for=comment-body]")
    assert field.text.startswith("Your comment")
    box = browser.find_element(By.ID, "comment-body")
    box.clear()
    box.send_keys(body)
    _click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.comment-form button"))


def test_a_developer_comments_on_a_feature_and_sees_it_in_the_timeline(
    browser: WebDriver, trust_server: LiveServer
) -> None:
    server = trust_server
    name = "trips:discussed:1"
    _tested_feature(server, name, "dev", description="A feature under discussion")
    _sign_in_trust(browser, server, "developer", "dora")
    _open(browser, server, f"/console/features/{name}")

    _comment(browser, "Test passed on a week of data;\nwhat about holidays?")
    assert "Your comment was added to the timeline." in _flashes(browser)
    assert _timeline(browser) == [
        "create",
        "submit",
        "test",
        "comment: Test passed on a week of data;\nwhat about holidays?",
    ]
    by = browser.find_element(By.CSS_SELECTOR, "ol.timeline > li.comment .by").text
    assert by == "by dora as developer (claimed)"

    _api(server, "/reject_feature_metadata", {"feature_name": name, "rejected_by": "boss",
         "user_role": "approver", "rejection_reason": "holidays missing"})  # fmt: skip
    _open(browser, server, f"/console/features/{name}")
    assert _timeline(browser)[-2:] == [
        "comment: Test passed on a week of data;\nwhat about holidays?",
        "reject",
    ]
    browser.execute_script("document.getElementById('timeline').scrollIntoView()")
    _shot(browser, "comment")  # the timeline and the form under it
    _shot(browser, "comment-phone", PHONE)

    _comment(browser, "   ")
    assert any("Body: Must not be blank." in m for m in _flashes(browser))
    assert len([e for e in _timeline(browser) if e.startswith("comment:")]) == 1
    _sign_out(browser)
