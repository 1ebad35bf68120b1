"""Screenshot a Dockyard page in Debian's Chromium, logged in:
.venv/bin/python scripts/screenshot.py URL OUT.png USER PASSWORD [--full]"""

import sys

from playwright.sync_api import sync_playwright

url, out, user, password = sys.argv[1:5]
with sync_playwright() as playwright:
    browser = playwright.chromium.launch(
        executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    origin = url.split("/", 3)[:3]
    page.goto("/".join(origin) + "/login/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.goto(url)
    page.wait_for_timeout(500)
    page.screenshot(path=out, full_page="--full" in sys.argv)
    browser.close()
