"""The API's reference page, in Chromium: it renders every operation from
Dockyard's own files, under the site's Content Security Policy."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORDS

pytestmark = pytest.mark.browser


def test_the_reference_renders_from_dockyards_own_files_within_the_policy(browser, server, builder):
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    refused, elsewhere = [], []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("request", lambda request: elsewhere.append(request.url)
            if not request.url.startswith((server.url, "data:")) else None)
    page.goto("/api/docs")
    page.fill("input[name=username]", "builder")  # the reference is a page: it needs a login
    page.fill("input[name=password]", PASSWORDS["builder"])
    page.click("button[type=submit]")
    page.wait_for_url("**/api/docs")
    page.wait_for_load_state("networkidle")
    assert refused == [] and elsewhere == []
    operations = page.locator(".opblock-summary-path")
    expect(operations.filter(has_text="/api/jobs/{pk}/cancel")).to_have_count(1)
    schema = page.request.get("/api/schema").json()
    assert operations.count() == sum(len(methods) for methods in schema["paths"].values())
    assert refused == [] and elsewhere == []
    context.close()
