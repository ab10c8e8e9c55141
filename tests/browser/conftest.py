"""A real browser on the sandbox's Temporal web UI.

Debian's ``chromium`` is driven by Playwright's async API on the session's
event loop, the same loop that runs the worker, so a page waiting for the UI
never blocks the drill it watches. No browser is downloaded, and every
request that would leave loopback is refused and counted: a test that
caused one fails.

Screenshots go to a folder of the pytest run; with
``ODOO_DR_UPDATE_SCREENSHOTS=1`` they are also written to
``docs/screenshots/`` for the README.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Route,
    async_playwright,
    expect,
)

from tests.conftest import Sandbox
from tests.integration.conftest import seeded  # noqa: F401  (fixture)

# Flags that keep Chromium from calling home: without the networking ones it
# keeps trying to reach Google's servers.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
# The UI's pages load in a second or two; the bound leaves room for a busy host.
ACTION_TIMEOUT_MS = 20_000
expect.set_options(timeout=ACTION_TIMEOUT_MS)
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class Screenshots:
    """Where a test's screenshots go: the run's folder, and the docs on demand."""

    folder: Path
    update_docs: bool

    async def take(self, page: Page, name: str) -> Path:
        """Save the visible part of ``page`` as ``name``.png (1280x800)."""
        path = self.folder / f"{name}.png"
        await page.screenshot(path=path, type="png")
        if self.update_docs:
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
        return path


@dataclass
class Loopback:
    """Requests the pages tried to send beyond loopback, all refused."""

    refused: list[str] = field(default_factory=list)

    async def guard(self, route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("file", "data", "blob", "about") or parts.hostname in (
            "127.0.0.1",
            "localhost",
            "::1",
        ):
            await route.continue_()
            return
        self.refused.append(url)
        await route.abort("blockedbyclient")


@pytest.fixture(scope="session")
def ui_url(sandbox: Sandbox) -> str:
    """The sandbox's Temporal web UI."""
    return f"http://127.0.0.1:{sandbox.state.ports.temporal_ui}"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, for the whole session."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@asynccontextmanager
async def fresh_page(browser: Browser) -> AsyncIterator[Page]:
    """A page in a new profile at 1280x800 that cannot leave loopback.

    Raises AssertionError on leaving when the page tried to reach beyond
    loopback, after the request was refused.
    """
    loopback = Loopback()
    context: BrowserContext = await browser.new_context(
        viewport=VIEWPORT, timezone_id="UTC"
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    await context.route("**/*", loopback.guard)
    try:
        yield await context.new_page()
    finally:
        await context.close()
    assert loopback.refused == [], "the page tried to leave loopback"


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A page of its own for each test."""
    async with fresh_page(browser) as opened:
        yield opened


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    """Screenshots of the session, kept as test artefacts."""
    return Screenshots(
        folder=tmp_path_factory.mktemp("screenshots"),
        update_docs=os.environ.get("ODOO_DR_UPDATE_SCREENSHOTS") == "1",
    )
