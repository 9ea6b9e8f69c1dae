"""The report of the sample feed, opened in headless Chromium: charts drawn, buttons work, no console error, no request out."""

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
# Debian's chromium-driver; Selenium is given its path, so Selenium Manager never downloads anything.
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
LOCAL = ("file:", "data:", "blob:", "about:")


@pytest.fixture
def report(tmp_path, tiny_run):
    from alignclf.batch import tag_inputs
    from alignclf.feeds import Fields
    from alignclf.report import build_report

    tagged = tmp_path / "tags.jsonl"
    tag_inputs([str(ROOT / "data" / "samples" / "feed.xml")], tagged, str(tiny_run[1].folder), fields=Fields(keep=("text",)))
    build_report([tagged], tmp_path / "report.html")
    return tmp_path / "report.html"


@pytest.fixture
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium binary installed (Debian: apt-get install chromium chromium-driver)")
    if not Path(CHROMEDRIVER).is_file():
        pytest.fail(f"Chromium is at {CHROMIUM} but chromedriver is missing: apt-get install chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Any request that tried to leave the page would go to a proxy that refuses it, and show in the network log.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def requests_made(driver) -> list[str]:
    events = (json.loads(entry["message"])["message"] for entry in driver.get_log("performance"))
    return [event["params"]["request"]["url"] for event in events if event["method"] == "Network.requestWillBeSent"]


def click(driver, chart: str, label: str) -> None:
    buttons = driver.find_elements("css selector", f"#chart-{chart} .updatemenu-button")
    button = next(b for b in buttons if b.get_attribute("textContent").strip() == label)
    driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", button)
    time.sleep(0.5)


def ticks(driver, axis: str) -> list[str]:
    return driver.execute_script(f"return [...document.querySelectorAll('#chart-time .{axis}tick text')].map(t => t.textContent)")


def test_report_renders_offline_in_chromium(report, browser, tmp_path):
    browser.get(report.as_uri())
    browser.execute_script("return new Promise(done => setTimeout(done, 1500))")
    charts = browser.execute_script(
        "return [...document.querySelectorAll('.chart')].map(c => [c.dataset.chart, c.querySelectorAll('svg, canvas').length])"
    )
    assert [name for name, _ in charts] == ["labels", "time", "countries", "cooccurrence"]
    assert all(drawn > 0 for _, drawn in charts), charts

    assert all(tick.endswith("%") for tick in ticks(browser, "y2")), "shares are the default"
    click(browser, "time", "Article counts")
    assert ticks(browser, "y2") and not any(tick.endswith("%") for tick in ticks(browser, "y2"))
    click(browser, "time", "Day")
    days = browser.execute_script("return document.getElementById('chart-time').data.filter(t => t.visible === true)[0].x.length")
    assert days == 6  # 9 to 14 April 2026
    browser.find_element("id", "highlight").click()
    assert browser.execute_script("return getComputedStyle(document.querySelector('mark')).backgroundColor") == "rgba(0, 0, 0, 0)"
    browser.find_element("id", "highlight").click()

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    outside = [url for url in requests_made(browser) if not url.startswith(LOCAL)]
    assert outside == []

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, height)
    assert browser.save_screenshot(str(tmp_path / "report.png"))
    if os.environ.get("ALIGNCLF_SCREENSHOT"):
        shutil.copyfile(tmp_path / "report.png", os.environ["ALIGNCLF_SCREENSHOT"])
    assert (tmp_path / "report.png").stat().st_size > 10_000
