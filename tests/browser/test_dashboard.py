"""The dashboard in a real headless Chromium: sign in with a token, see the audit rows of a demo
push, filter them, reset an open breaker, see an API error's fix; keyboard, focus and storage."""

from __future__ import annotations

from typing import Any

import pytest
from capi_writeback_local.local_api import LocalApi
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.support import call, demo_sync, open_breaker, sign_in

pytestmark = pytest.mark.timeout(180)
RESET = (By.XPATH, "//button[normalize-space(.)='Reset breaker']")


def wait(driver: Any, seconds: float = 30) -> WebDriverWait:  # type: ignore[type-arg]
    return WebDriverWait(driver, seconds)


def show_profile(driver: Any, name: str) -> None:
    button = wait(driver).until(ec.element_to_be_clickable(
        (By.XPATH, f"//button[normalize-space(.)='Show {name}']")))
    button.click()
    wait(driver).until(lambda d: d.execute_script(
        "return document.querySelector('#audit-table tbody td.num') !== null"
        " || document.getElementById('audit-table').innerText.indexOf('No audit rows') >= 0"))


def audit_rows(driver: Any) -> list[list[str]]:
    """The audit table's cells, read in one go (the table may be re-rendered between two reads)."""
    rows: list[list[str]] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#audit-table tbody tr'))"
        ".map(r => Array.from(r.cells).map(c => c.innerText.trim()))")
    return rows


def test_sign_in_and_see_the_audit_rows_of_the_demo_push(page: Any, api: LocalApi) -> None:
    assert page.switch_to.active_element.get_attribute("id") == "token"  # focus starts in the token field
    sign_in(page, api.url, api.seed.api_token)
    heading = wait(page).until(ec.visibility_of_element_located((By.ID, "workspace-h")))
    assert page.switch_to.active_element == heading  # focus moves to the content once signed in
    assert "write-back is ON" in page.find_element(By.ID, "workspace-line").text
    assert api.seed.api_token not in page.current_url
    stored = page.execute_script("return window.sessionStorage.getItem('capi-writeback.token')")
    assert stored == api.seed.api_token
    assert page.execute_script("return window.localStorage.length") == 0
    show_profile(page, "Demo profile")
    rows = audit_rows(page)
    operations = [row[1] for row in rows]
    assert operations == ["confirm", "confirm", "dry_run", "preview"]
    assert [row[2] for row in rows] == ["refused", "succeeded", "succeeded", "succeeded"]
    assert "IDEMPOTENCY_KEY_REQUIRED" in rows[0][5] and "key first-push" in rows[1][5]
    assert rows[1][4] == "40"
    # the session survives a reload of the tab, and the token field is never filled back in
    page.refresh()
    wait(page).until(ec.visibility_of_element_located((By.ID, "workspace-h")))
    assert page.find_element(By.ID, "token").get_attribute("value") == ""


def test_filter_the_audit_trail(page: Any, api: LocalApi) -> None:
    sign_in(page, api.url, api.seed.api_token)
    show_profile(page, "Demo profile")
    Select(page.find_element(By.ID, "f-operation")).select_by_visible_text("confirm")
    page.find_element(By.CSS_SELECTOR, "#audit-filters button[type=submit]").click()
    wait(page).until(lambda d: {row[1] for row in audit_rows(d)} == {"confirm"})
    assert len(audit_rows(page)) == 2
    Select(page.find_element(By.ID, "f-status")).select_by_visible_text("refused")
    page.find_element(By.CSS_SELECTOR, "#audit-filters button").send_keys(Keys.SPACE)  # by keyboard
    wait(page).until(lambda d: len(audit_rows(d)) == 1)
    assert audit_rows(page)[0][2] == "refused"
    # a date range with nothing in it
    Select(page.find_element(By.ID, "f-operation")).select_by_index(0)
    Select(page.find_element(By.ID, "f-status")).select_by_index(0)
    page.execute_script("document.getElementById('f-from').value = '2030-01-01'")
    page.find_element(By.CSS_SELECTOR, "#audit-filters button[type=submit]").click()
    wait(page).until(lambda d: "No audit rows match" in d.find_element(By.ID, "audit-table").text)


def test_pages_of_the_audit_trail(page: Any, api: LocalApi) -> None:
    profile = f"/v1/profiles/{api.seed.profile_id}/writeback/preview"
    for _ in range(21):  # 4 rows of the demo push + 21: two pages of 20
        assert call(api, "POST", profile, {"last_days": 1})[0] == 200
    sign_in(page, api.url, api.seed.api_token)
    show_profile(page, "Demo profile")
    assert len(audit_rows(page)) == 20
    older = page.find_element(By.ID, "audit-older")
    assert older.is_enabled() and not page.find_element(By.ID, "audit-newer").is_enabled()
    older.click()
    wait(page).until(lambda d: "Page 2" in d.find_element(By.ID, "audit-page").text)
    assert [row[1] for row in audit_rows(page)][-1] == "preview" and len(audit_rows(page)) >= 5
    page.find_element(By.ID, "audit-newer").click()
    wait(page).until(lambda d: "Page 1" in d.find_element(By.ID, "audit-page").text)


def test_reset_an_open_breaker(page: Any, api: LocalApi) -> None:
    open_breaker(api.seed.profile_id)
    sign_in(page, api.url, api.seed.api_token)
    reset = wait(page).until(ec.element_to_be_clickable(RESET))
    row = page.find_element(By.CSS_SELECTOR, f"tr[data-profile='{api.seed.profile_id}']")
    assert "open" in row.text and "closes by itself" in row.text
    reset.send_keys(Keys.ENTER)  # keyboard activation
    wait(page).until(lambda d: "reset" in d.find_element(By.ID, "status").text)
    wait(page).until(lambda d: "closed" in d.find_element(
        By.CSS_SELECTOR, f"tr[data-profile='{api.seed.profile_id}']").text)
    assert not page.find_elements(*RESET)
    status, trail = call(api, "GET", f"/v1/profiles/{api.seed.profile_id}/writeback/audit?limit=1")
    assert status == 200 and trail["items"][0]["operation"] == "breaker_reset"


def test_an_api_error_is_shown_with_its_fix(page: Any, api: LocalApi) -> None:
    sign_in(page, api.url, "cwb_not-a-real-token")
    alert = wait(page).until(ec.visibility_of_element_located((By.ID, "error")))
    assert "UNAUTHENTICATED" in alert.text and "Fix: Send 'Authorization: Bearer <token>'" in alert.text
    assert alert.get_attribute("role") == "alert"
    assert page.find_element(By.ID, "login").is_displayed()
    assert page.execute_script("return window.sessionStorage.getItem('capi-writeback.token')") is None
    # signed in, a profile without a Meta connection: its quality section names the fix
    sign_in(page, api.url, api.seed.api_token)
    show_profile(page, "Outlet store")
    quality = wait(page).until(lambda d: d.find_element(By.CSS_SELECTOR, "#quality-body .section-error"))
    assert "META_CONNECTION_INACTIVE" in quality.text and "Fix: Reconnect Meta" in quality.text


def test_a_refused_action_shows_the_fix(page: Any, api: LocalApi) -> None:
    """A reader's token (a member with mcp:read) may look, not reset: MISSING_SCOPE with its fix."""
    open_breaker(api.seed.profile_id)
    sign_in(page, api.url, api.seed.read_token)
    wait(page).until(ec.element_to_be_clickable(RESET)).click()
    alert = wait(page).until(ec.visibility_of_element_located((By.ID, "error")))
    assert "MISSING_SCOPE" in alert.text and "Fix: Create a token with the mcp:write scope" in alert.text
    assert not page.find_element(By.ID, "members").is_displayed()  # members and tokens: owners/admins only
    from capi_writeback.rails.breaker.circuit import CircuitBreaker
    from capi_writeback.rails.breaker.persistence.dynamodb import DynamoBreakerStore

    CircuitBreaker(DynamoBreakerStore()).reset(api.seed.profile_id)


def test_syncs_show_their_last_run(page: Any, api: LocalApi) -> None:
    sign_in(page, api.url, api.seed.api_token)
    show_profile(page, "Demo profile")
    wait(page).until(lambda d: "No syncs for this profile" in d.find_element(By.ID, "syncs-body").text)
    demo_sync(api)
    page.refresh()
    show_profile(page, "Demo profile")
    wait(page).until(lambda d: "Warehouse orders" in d.find_element(By.ID, "syncs-body").text)
    cells = page.execute_script(
        "return Array.from(document.querySelectorAll('#syncs-body tbody td')).map(c => c.innerText.trim())")
    assert cells[:4] == ["Warehouse orders", "s3 · csv", "rate(30 minutes)", "succeeded · dry_run · 20 sent"]
    assert cells[4][:2] == "20"  # when it finished (UTC)


def test_issue_and_revoke_a_token(page: Any, api: LocalApi) -> None:
    sign_in(page, api.url, api.seed.api_token)
    user = wait(page).until(ec.visibility_of_element_located((By.ID, "t-user")))
    user.send_keys("bob")
    page.find_element(By.ID, "t-label").send_keys("browser test")
    page.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
    shown = wait(page).until(ec.visibility_of_element_located((By.ID, "new-token-value")))
    token = shown.get_attribute("value")
    assert token.startswith("cwb_") and page.switch_to.active_element == shown
    assert call(api, "GET", "/v1/workspace", token=token)[0] == 200
    wait(page).until(lambda d: "browser test" in d.find_element(By.ID, "tokens-table").text)
    row = page.find_element(By.XPATH, "//table[@id='tokens-table']//tr[td[.='browser test']]")
    row.find_element(By.TAG_NAME, "button").click()
    wait(page).until(lambda d: "browser test" not in d.find_element(By.ID, "tokens-table").text)
    assert call(api, "GET", "/v1/workspace", token=token)[0] == 401


def test_the_page_loads_nothing_from_elsewhere(page: Any, api: LocalApi) -> None:
    sign_in(page, api.url, api.seed.api_token)
    wait(page).until(ec.visibility_of_element_located((By.ID, "workspace-h")))
    resources = page.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    assert resources and all(name.startswith(api.url + "/v1/") for name in resources), resources
    labels = page.execute_script("""
        return Array.prototype.filter.call(document.querySelectorAll('input, select'), function (el) {
          return el.type !== 'checkbox' && !(el.labels && el.labels.length);
        }).map(function (el) { return el.id; });""")
    assert labels == []  # every field has a label
