"""The dashboard in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven by
selenium), against the local API with a demo push behind it. Used by the browser tests and by
`make screenshot` (shoot.py)."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Headless as root on a machine without network: no sandbox (root), and no background networking,
# component updates or sync (their connections would be refused, many at a time).
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1366,900")
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(api: Any, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(api.url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token or api.seed.api_token}",
                                              "Content-Type": "application/json"})
    try:
        with _opener.open(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def website_rows(prefix: str, count: int) -> list[dict[str, Any]]:
    now = int(time.time())
    rows = []
    for i in range(count):
        row: dict[str, Any] = {
            "conversion_id": f"{prefix}-{i}", "outcome_type": "payment_received" if i % 4 else "lead_created",
            "occurred_at": now - 300 - 60 * i, "action_source": "website",
            "event_source_url": "https://shop.example/thanks", "client_user_agent": "Mozilla/5.0",
            "client_ip_address": f"203.0.113.{i % 250}", "value": 20 + i, "currency": "USD"}
        if i % 3:
            row["email"] = f"buyer{i}@example.com"
        if i % 2:
            row["phone"] = f"+1415555{i:04d}"
        rows.append(row)
    return rows


def demo_push(api: Any) -> None:
    """What a user has done before opening the dashboard: write-back on, rows stored, preview,
    dry-run, confirm, a refused confirm (no key), a second profile not connected yet."""
    profile = f"/v1/profiles/{api.seed.profile_id}"
    steps = [("PATCH", "/v1/workspace/settings", {"writeback_enabled": True}),
             ("POST", f"{profile}/conversions", {"rows": website_rows("web", 40)}),
             ("POST", f"{profile}/writeback/preview", {"last_days": 1}),
             ("POST", f"{profile}/writeback/dry-run", {"last_days": 1}),
             ("POST", f"{profile}/writeback/confirm", {"last_days": 1, "idempotency_key": "first-push"}),
             ("POST", "/v1/profiles", {"profile_id": "prof_outlet", "name": "Outlet store",
                                       "settings": {"action_source": "physical_store", "country": "US"}}),
             ("PUT", "/v1/workspace/members/bob", {"role": "member"})]
    for method, path, body in steps:
        status, answer = call(api, method, path, body)
        assert status == 200, (path, answer)
    status, _ = call(api, "POST", f"{profile}/writeback/confirm", {"last_days": 1})
    assert status == 422


def demo_sync(api: Any) -> str:
    """A warehouse sync of the demo profile with one finished dry run (a 20-row CSV export in the
    embedded S3): its sync_id."""
    bucket = api.stack.sync_env["SYNC_EXPORT_BUCKET"]
    now = int(time.time())
    lines = ["order_id,ordered_at,email,amount"] + [
        f"wh-{i},{now - 600 - 60 * i},shopper.{i}@example.com,{20 + i}.90" for i in range(20)]
    api.stack.client("s3").put_object(Bucket=bucket, Key="orders/export.csv",
                                      Body=("\n".join(lines) + "\n").encode())
    profile = f"/v1/profiles/{api.seed.profile_id}"
    status, sync = call(api, "POST", f"{profile}/syncs", {
        "name": "Warehouse orders", "primary_key": "order_id", "schedule": "rate(30 minutes)",
        "source": {"type": "s3", "uri": f"s3://{bucket}/orders/", "format": "csv"},
        "mapping": {"event_name": {"value": "Purchase"}, "event_time": {"column": "ordered_at"},
                    "em": {"column": "email"}, "value": {"column": "amount"}, "currency": {"value": "USD"},
                    "action_source": {"value": "system_generated"}}})
    assert status == 201, sync
    status, run = call(api, "POST", f"{profile}/syncs/{sync['sync_id']}/runs")
    assert status == 202, run
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, report = call(api, "GET", f"{profile}/syncs/{sync['sync_id']}/runs/{run['run_id']}")
        assert status == 200, report
        if report["status"] != "running":
            assert report["status"] == "succeeded", report
            return str(sync["sync_id"])
        time.sleep(0.1)
    raise AssertionError("the sync run did not finish within 90 s")


def open_breaker(profile_id: str) -> None:
    """Three failed confirms' worth of breaker failures (as the confirm records them)."""
    from capi_writeback.rails.breaker.circuit import CircuitBreaker
    from capi_writeback.rails.breaker.persistence.dynamodb import DynamoBreakerStore

    breaker = CircuitBreaker(DynamoBreakerStore())
    for _ in range(breaker.threshold):
        breaker.record_failure(profile_id)
    assert breaker.is_open(profile_id)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium under selenium, with a profile directory of its own."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            raise RuntimeError(f"{path} is missing: apt-get install chromium chromium-driver "
                               "(`.ci/run` does it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cwb-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def sign_in(driver: Any, url: str, token: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/v1/dashboard")
    field = WebDriverWait(driver, 20).until(ec.element_to_be_clickable((By.ID, "token")))
    field.clear()
    field.send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
