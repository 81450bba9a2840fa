"""The web console in a real headless browser (Debian's chromium through chromedriver, driven by selenium),
against the service as a real process scraping the demo model server, with a local Slack stand-in.

Each page loads with no console error and no request leaving 127.0.0.1; the overview shows the API's
budgets; an incident on the demo model server turns its row red by the page's own refresh; Acknowledge on
the alerts page reaches Slack; inputs are labelled, status colours meet WCAG AA and the Tab key reaches the
sort links. Screenshots of every page (1366x768, and the overview at phone width) are written to tmp_path,
and to docs/console/ with SLO_SERVICE_SCREENSHOTS=1 (how the committed ones were made).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from slo_service.api.console.pages import REFRESH_SECONDS
from slo_service.demo.model_server import HEALTHY_ERROR_RATE, DemoModelServer
from tests.support.auth import ADMIN_TOKEN
from tests.support.fake_slack import TOKEN, FakeSlack
from tests.support.history import PAGE_5M_POLICY, seed_history
from tests.support.process import GiveUp, ServiceProcess, require_tool, run_service, start_local_server, wait_for

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
except ImportError:  # selenium is in the dev extra; CI (SLO_SERVICE_REQUIRE_ALL=1) must have it
    if os.environ.get("SLO_SERVICE_REQUIRE_ALL") == "1":
        raise
    pytest.skip("selenium is not installed (pip install -e '.[dev]')", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
PAGES = {"overview": "/", "detail": "/slos/fraud-detector/availability", "alerts": "/alerts"} | {
    name: f"/{name}" for name in ("oncall", "drift", "sources")
}
DESKTOP, PHONE = (1366, 768), (390, 844)


def write_config(path: Path, demo_url: str, slack: FakeSlack) -> Path:
    path.write_text(
        f"""apiVersion: slo-service/v1
services:
  - {{name: fraud-detector, labels: {{team: ml-platform}}}}
sources:
  - {{name: demo, type: scrape, url: "{demo_url}/metrics", interval: 1s, timeout: 900ms}}
slos:
  - service: fraud-detector
    name: availability
    description: Prediction requests that do not fail with a 5xx
    objective: 99
    period: 7d
    sli:
      ratio: {{source: demo, good: 'model_requests_total{{code!~"5.."}}', total: model_requests_total}}
  - service: fraud-detector
    name: latency
    objective: 95
    period: 7d
    sli:
      latency: {{source: demo, histogram: model_request_duration_seconds, threshold: 0.25}}
alerting:
{PAGE_5M_POLICY}  receivers:
    - name: chat
      type: slack
      channel: "#{slack.channel_name}"
      token_env: TEST_SLACK_TOKEN
      base_url: "{slack.base_url}"
  route:
    receiver: chat
    group_by: [service, slo]
    group_wait: 0s
    group_interval: 1s
  users:
    alice: {{email: alice@example.com}}
    bob: {{email: bob@example.com}}
  schedules:
    - name: ml-primary
      timezone: Europe/Berlin
      layers:
        - name: weekly
          rotation: {{members: [alice, bob], length: 7d, start: "2026-11-02T09:00:00+01:00"}}
"""
    )
    return path


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    binary = require_tool("chromium", "chromium chromium-driver")
    driver_path = require_tool("chromedriver", "chromium chromium-driver")
    options = Options()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"):
        options.add_argument(arg)
    # no request of the browser itself (updates, safe browsing, field trials) may leave the machine
    options.add_argument("--disable-background-networking")
    options.add_argument("--disable-component-update")
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[ServiceProcess, DemoModelServer, FakeSlack]]:
    demo = DemoModelServer(port=0, seed=7, error_rate=HEALTHY_ERROR_RATE).start()
    slack_server = start_local_server()
    slack = FakeSlack(slack_server, channel_name="ml-alerts")
    config = write_config(tmp_path / "slo.yaml", demo.url, slack)
    # the 5m page is judged once its window holds 4 minutes of data: seed them instead of waiting
    seed_history(sqlite_url, "fraud-detector", "availability")
    env = {"TEST_SLACK_TOKEN": TOKEN, "SLO_SERVICE_FLUSH_INTERVAL": "1"}
    try:
        with run_service([config], sqlite_url, tmp_path, env=env) as svc:
            yield svc, demo, slack
    finally:
        demo.stop()
        slack_server.stop()


def problems_in_logs(driver: WebDriver) -> tuple[list[str], list[str]]:
    """Console errors since the last call, and every URL the page requested that is not on 127.0.0.1."""
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    outside = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] != "Network.requestWillBeSent":
            continue
        url = message["params"]["request"]["url"]
        parts = urlsplit(url)
        if parts.scheme in ("data", "about", "blob") or (parts.hostname or "") == "127.0.0.1":
            continue
        outside.append(url)
    return errors, outside


def log_in(driver: WebDriver, svc: ServiceProcess) -> None:
    driver.get(svc.url + "/")  # a browser without a token is sent to the login form
    wait_for(lambda: "/login" in driver.current_url, timeout=10, what="the login redirect")
    token = driver.find_element(By.ID, "token")
    token.send_keys(ADMIN_TOKEN)
    token.submit()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "table.slos"), timeout=15, what="the overview")


def rows(driver: WebDriver) -> dict[str, tuple[str, str]]:
    """Overview rows: SLO -> (row class, budget cell text)."""
    out = {}
    for tr in driver.find_elements(By.CSS_SELECTOR, "tr[data-slo]"):
        out[tr.get_attribute("data-slo") or ""] = (
            tr.get_attribute("class") or "",
            tr.find_element(By.CSS_SELECTOR, "td.budget").text,
        )
    return out


def luminance(rgb: tuple[float, ...]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: tuple[float, ...], bg: tuple[float, ...]) -> float:
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rgb(css: str) -> tuple[float, ...]:
    """'rgb(1, 2, 3)' or 'rgba(1, 2, 3, 1)' -> (1, 2, 3)."""
    return tuple(float(x) for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3])


def screenshot(driver: WebDriver, name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.png"
    assert driver.save_screenshot(str(path))
    if os.environ.get("SLO_SERVICE_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "console"
        target.mkdir(exist_ok=True)
        shutil.copy(path, target / path.name)


def test_the_console_in_a_real_browser(
    browser: WebDriver, world: tuple[ServiceProcess, DemoModelServer, FakeSlack], tmp_path: Path
) -> None:
    svc, demo, slack = world
    wait_for(lambda: svc.get("/api/v1/slos").json()[0]["status"], timeout=30, what="a first evaluation")
    log_in(browser, svc)
    problems_in_logs(browser)  # the login redirect's own 401 is logged as a failed load: start clean

    # every page loads from this service only, without a console error; the CSP header says so too
    for name, path in PAGES.items():
        browser.get(svc.url + path)
        wait_for(lambda: browser.find_elements(By.TAG_NAME, "h1"), timeout=10, what=f"{path} rendered")
        errors, outside = problems_in_logs(browser)
        assert not errors, (path, errors)
        assert not outside, (path, outside)
        assert "default-src 'self'" in svc.get(path).headers["content-security-policy"]
        # every visible form control has a label
        unlabelled = browser.execute_script(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
            ".filter(e => e.labels.length === 0).map(e => e.outerHTML)"
        )
        assert not unlabelled, (path, unlabelled)
        screenshot(browser, name, tmp_path)

    # the overview shows every SLO with the budget the API reports (read between two API reads of one evaluation)
    def same_budgets() -> bool:
        before = svc.get("/api/v1/slos").json()
        browser.get(svc.url + "/")
        shown = rows(browser)
        after = svc.get("/api/v1/slos").json()
        if [s["status"]["evaluated_at"] for s in before] != [s["status"]["evaluated_at"] for s in after]:
            return False  # an evaluation in between: read again
        if set(shown) != {f"{s['service']}/{s['slo']}" for s in after}:
            raise GiveUp(f"the overview lists {sorted(shown)}, the API {after}")
        for s in after:
            expected = f"{s['status']['budget']['remaining_ratio'] * 100:.1f}%"
            if shown[f"{s['service']}/{s['slo']}"][1] != expected:
                raise GiveUp(f"{s['slo']}: the overview shows {shown}, the API {expected}")
        return True

    wait_for(same_budgets, timeout=30, interval=0.1, what="one evaluation read by the API and the page")

    # status colours: white text on each status background meets WCAG AA (4.5:1)
    colours = browser.execute_script(
        "return ['critical', 'warning', 'ok', 'nodata'].map(s => {"
        " const e = document.createElement('span'); e.className = 'badge s-' + s; e.textContent = s;"
        " document.body.appendChild(e); const c = getComputedStyle(e);"
        " const out = [s, c.color, c.backgroundColor]; e.remove(); return out; })"
    )
    for status, fg, bg in colours:
        assert contrast(rgb(fg), rgb(bg)) >= 4.5, (status, fg, bg)

    # the keyboard reaches the table's sort links, and they are real links
    browser.find_element(By.TAG_NAME, "body").click()
    active = None
    for _ in range(40):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        active = browser.switch_to.active_element
        if "sort" in (active.get_attribute("class") or ""):
            break
    assert active is not None and "sort" in (active.get_attribute("class") or ""), "Tab never reached a sort link"
    active.send_keys(Keys.ENTER)
    wait_for(lambda: "sort=" in browser.current_url, timeout=10, what="the sort link followed")

    # phone width: the page fits, the table scrolls inside its own box
    browser.get(svc.url + "/")
    browser.set_window_size(*PHONE)
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than a phone screen"
    screenshot(browser, "overview-phone", tmp_path)
    browser.set_window_size(*DESKTOP)

    # an incident turns the row red: the page's own refresh shows it once the alert fires
    browser.get(svc.url + "/")
    assert rows(browser)["fraud-detector/availability"][0] != "row-critical"
    assert httpx.post(demo.url + "/incident?duration=600", timeout=5).status_code == 200

    def firing() -> list[dict[str, Any]]:
        alerts = svc.get("/api/v1/alerts", params={"state": "firing"}).json()
        return [a for a in alerts if a["labels"].get("slo") == "availability"]

    # the incident reaches the alert windows when its minute closes (up to 60 s), then one evaluation
    [alert] = wait_for(firing, timeout=150, what="the availability page firing")
    wait_for(
        lambda: rows(browser)["fraud-detector/availability"][0] == "row-critical",
        timeout=2 * REFRESH_SECONDS + 5,
        interval=0.5,
        what="the row red after the page's own refresh",
    )
    errors, outside = problems_in_logs(browser)
    assert not errors and not outside, (errors, outside)
    screenshot(browser, "overview-incident", tmp_path)

    # Acknowledge on the alerts page reaches Slack
    wait_for(lambda: slack.messages, timeout=30, what="the page posted to Slack")
    browser.get(svc.url + "/alerts")
    button = browser.find_element(
        By.CSS_SELECTOR, f"tr[data-fingerprint='{alert['fingerprint']}'] form[action$='/ack'] button"
    )
    button.click()
    wait_for(lambda: "acknowledged by" in browser.page_source, timeout=10, what="the acknowledgement notice")
    wait_for(lambda: any("ACKNOWLEDGED" in m.text for m in slack.messages), timeout=30, what="ACKNOWLEDGED in Slack")
    screenshot(browser, "alerts", tmp_path)
    errors, outside = problems_in_logs(browser)
    assert not errors and not outside, (errors, outside)
