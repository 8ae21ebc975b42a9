"""Headless Chromium (Debian's chromium and chromedriver) for the finance pages' test."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# As the machine's notes say: without the background-networking flags Chromium reaches out to
# Google's hosts at every start, which a closed network refuses.
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1680,2200")


def chromium_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or CHROMIUM
    driver = shutil.which("chromedriver") or CHROMEDRIVER
    missing = [path for path in (chromium, driver) if not Path(path).exists()]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not installed: `make test` installs Debian's chromium and "
                           "chromium-driver (scripts/install-chromium.sh)")
    return chromium, driver


def start_chromium(profile_dir: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # The driver path is given, so Selenium Manager never looks for (or downloads) one.
    return webdriver.Chrome(service=Service(driver), options=options)


def wait_for_figures(browser, test_ids: list[str], timeout: float = 90) -> dict[str, str]:
    """The last line of each [data-testid] element once every one shows a figure."""
    deadline = time.monotonic() + timeout
    figures: dict[str, str] = {}
    while time.monotonic() < deadline:
        figures = {}
        for test_id in test_ids:
            elements = browser.find_elements("css selector", f'[data-testid="{test_id}"]')
            text = elements[0].text.strip() if elements else ""
            last = text.splitlines()[-1].strip() if text else ""
            if any(character.isdigit() for character in last):
                figures[test_id] = last
        if len(figures) == len(test_ids):
            return figures
        time.sleep(0.5)
    raise AssertionError(f"figures not shown within {timeout}s: have {figures}, want {test_ids}")


def requested_urls(browser) -> list[str]:
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
