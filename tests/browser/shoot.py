"""`make screenshot`: docs/dashboard.png, the dashboard after a demo push and a sync run, from
headless Chromium.

    .venv/bin/python -m tests.browser.shoot docs/dashboard.png
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(out: str = "docs/dashboard.png") -> int:
    from capi_writeback_local.local_api import LocalApi
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser.support import chromium, demo_push, demo_sync, sign_in

    with LocalApi() as api, chromium() as driver:
        demo_push(api)
        demo_sync(api)
        driver.set_window_size(1366, 1500)
        sign_in(driver, api.url, api.seed.api_token)
        wait = WebDriverWait(driver, 30)
        show = (By.XPATH, "//button[starts-with(., 'Show Demo profile')]")
        wait.until(ec.element_to_be_clickable(show)).click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#audit-table tbody tr td.num")) > 0)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#quality-body table"))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#syncs-body table"))
        driver.execute_script("window.scrollTo(0, 0)")
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1366, min(int(height) + 40, 2600))
        driver.save_screenshot(out)
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
