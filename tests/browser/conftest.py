"""What the conversation browser tests share: the app on the run's two embedded servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lib.bench.harness import CHROMIUM, CHROMIUM_ARGS, PC_SPY, App, streamlit_app
from lib.bench.studio_driver import StudioDriver
from lib.emulators.launcher import EmulatorProcess


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), one per test module."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def conversation_app(
    local_realtime: EmulatorProcess,
    local_heygen: EmulatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[App]:
    """The app, one per test module, with the run's Realtime and avatar servers."""
    env = {
        "AVATARLAB_LOCAL_REALTIME_URL": local_realtime.base_url,
        "AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url,
    }
    with streamlit_app(tmp_path_factory.mktemp("conversation"), env) as running:
        yield running


def open_conversation_page(p: Any, app: App, wav: Path) -> tuple[Any, Any, Any, StudioDriver]:
    """Chromium, its fake mic playing `wav`, on the app's Conversation page once it has drawn:
    (browser, context, page, driver)."""
    browser = p.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}"],
    )
    context = browser.new_context()
    context.add_init_script(PC_SPY)
    page = context.new_page()
    page.goto(app.url)
    page.get_by_role("link", name="Conversation").click()
    page.get_by_role("heading", name="Conversation").wait_for(timeout=30_000)
    driver = StudioDriver(page)  # its waits work on any page of the app
    driver.wait_idle()
    return browser, context, page, driver
