"""Fixtures: the tiny-bundle server of the server tests, and one headless Debian chromium driven by Playwright."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

# Imported so that tests/web gets its own session-scoped tiny bundle and live server, built as the server tests build theirs.
from tests.server.conftest import live_server, server_settings, tiny_bundle  # noqa: F401
from web.screenshots import CHROMIUM, CHROMIUM_ARGS

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 20_000


def launch_chromium(playwright: Playwright) -> Browser:
    """Launch Debian's chromium package headless; Playwright's own browser download is not used."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium package (apt-get install chromium) to run browser tests")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item, so that the page fixture can check whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """Open a fresh page, and save its screenshot as test-artifacts/<test name>.png when the test fails."""
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    browser_page = context.new_page()
    yield browser_page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        browser_page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    context.close()
