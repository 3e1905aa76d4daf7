"""The dashboard as a person uses it: real Chromium (Debian's, driven by Selenium) against a
real once-server on 127.0.0.1, with a real failing once-exec run in it.

It logs in through the form, finds the failed run and its output tail in at most three
clicks, opens every page and saves a full-page screenshot of each under the folder it prints
(ONCE_SCREENSHOTS, else a new one under /tmp).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "PySupport"))
import once_procs  # noqa: E402

CHROMIUM = os.environ.get("ONCE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ONCE_CHROMEDRIVER", "/usr/bin/chromedriver")
EXEC_BIN = os.environ.get("ONCE_EXEC_BIN", ".build/debug/once-exec")
PAGES = ["/ui", "/ui/runs", "/ui/runs?status=failed", "/ui/leases", "/ui/keys", "/ui/events", "/ui/agents",
         "/ui/tools", "/ui/usage", "/ui/usage?days=30"]


def api(base: str, key: str, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def once_exec(base: str, key: str, *args: str, wait: bool = True):
    env = dict(os.environ, ONCEONLY_API_KEY=key)
    env.pop("ONCEONLY_BASE_URL", None)
    cmd = [EXEC_BIN, "--server", base, *args]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


def click_and_load(browser, element) -> None:
    """Clicks `element` and returns once the next page has replaced this one. A click that
    submits a form may return before the navigation (CI once read the old URL right after
    the login click), so the old document's going stale is what says the new page is there."""
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(page))
    WebDriverWait(browser, 30).until(lambda b: b.execute_script("return document.readyState") == "complete")


def wait_for(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def shots() -> Path:
    folder = os.environ.get("ONCE_SCREENSHOTS")
    path = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="once-dashboard-screens."))
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser-test: screenshots in {path}", flush=True)
    return path


@pytest.fixture
def browser():
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1366,900", "--no-first-run", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", "--disable-default-apps"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, folder: Path, name: str) -> Path:
    # The whole page, not just the window: grow the window to the document's height first.
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 600)")
    driver.set_window_size(1366, min(int(height) + 40, 6000))
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1366, 900)
    return path


def test_find_failed_run_in_three_clicks_and_every_page(tmp_path: Path, browser, shots: Path):
    db = tmp_path / "once.sqlite"
    key = once_procs.create_key(db, name="browser-test")
    server = once_procs.start_server(db)
    base = server.base_url

    # A failed once-exec run with output on both streams, and a few successful ones.
    failed = once_exec(base, key, "nightly-report", "--capture", "4096", "--", "sh", "-c",
                       "echo 'collecting 3 sources'; echo 'report: <b>ERROR</b> disk quota exceeded' >&2; exit 3")
    assert failed.returncode == 3, failed.stderr
    for i in range(3):
        ok = once_exec(base, key, f"sync-{i}", "--", "sh", "-c", f"echo synced {i}")
        assert ok.returncode == 0, ok.stderr
    # A lease held while the screenshots are taken, check-locks (one duplicate) and a policy.
    holder = once_exec(base, key, "backup-db", "--ttl", "60", "--", "sleep", "120", wait=False)
    try:
        api(base, key, "POST", "/v1/check-lock", {"key": "email:welcome:42", "ttl": 3600})
        api(base, key, "POST", "/v1/check-lock", {"key": "email:welcome:42", "ttl": 3600})
        api(base, key, "POST", "/v1/check-lock", {"key": "invoice:2026-12", "ttl": 600})
        # A registered tool (its secret must never reach a page) and a policy naming tools.
        api(base, key, "POST", "/v1/tools", {
            "name": "send_refund", "url": "https://billing.example/refund", "description": "refunds up to $50",
            "auth": {"type": "hmac_sha256", "secret": "whsec_browser_test_secret"}, "timeout_ms": 4000})
        api(base, key, "POST", "/v1/policies/support-bot/from-template", {"template": "support_bot"})
        def held() -> bool:
            try:
                return api(base, key, "GET", "/v1/ai/status?key=backup-db").get("status") == "in_progress"
            except urllib.error.HTTPError:  # 404 until once-exec has acquired it
                return False
        wait_for(held, "the backup-db lease")

        # Click 1: log in through the form.
        browser.get(base + "/ui")
        assert browser.current_url.endswith("/ui/login")
        screenshot(browser, shots, "00-login")
        browser.find_element(By.NAME, "api_key").send_keys(key)
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
        assert browser.current_url.rstrip("/").endswith("/ui"), (
            browser.current_url, browser.find_element(By.TAG_NAME, "body").text)
        assert key not in browser.page_source
        # Click 2: the failed run, listed on the overview.
        failed_links = browser.find_elements(By.CSS_SELECTOR, "tr.error a[href^='/ui/runs/']")
        assert failed_links, "the overview lists the failed run"
        click_and_load(browser, failed_links[0])
        # The output tail is right there: no third click needed.
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "report: <b>ERROR</b> disk quota exceeded" in body, body
        assert "collecting 3 sources" in body
        assert "exit code 3" in body
        screenshot(browser, shots, "02-failed-run")

        for i, path in enumerate(PAGES):
            browser.get(base + path)
            assert "/ui/login" not in browser.current_url, path
            assert browser.find_element(By.TAG_NAME, "h1").text, path
            name = path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "ui"
            screenshot(browser, shots, f"{i + 10:02d}-{name}")
        browser.get(base + "/ui/leases")
        assert "backup-db" in browser.page_source
        assert "sleep 120" in browser.page_source
        browser.get(base + "/ui/tools")
        assert "send_refund" in browser.page_source and "https://billing.example/refund" in browser.page_source
        assert "whsec_browser_test_secret" not in browser.page_source and "***ret" not in browser.page_source
        browser.get(base + "/ui/agents/support-bot")
        assert "support-bot" in browser.find_element(By.TAG_NAME, "h1").text
        assert "max_actions_per_hour" in browser.page_source
        screenshot(browser, shots, "30-agent")

        # Log out: the pages ask for the login again.
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.logout button"))
        assert browser.current_url.endswith("/ui/login")
        browser.get(base + "/ui/runs")
        assert browser.current_url.endswith("/ui/login")
    finally:
        holder.terminate()
        holder.wait(timeout=30)
    print(f"browser-test: {len(list(shots.glob('*.png')))} screenshots in {shots}", flush=True)
