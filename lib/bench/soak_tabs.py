"""The soak's browser tabs: one Chromium standing in for the users' machines, a tab per
stream brought to the Conversation page and started, and at the end stopped and shot."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from lib.bench.harness import CHROMIUM_ARGS, PC_SPY, user_chromium
from lib.bench.studio_driver import StudioDriver

PAGE_LOAD_MS: Final = 120_000
# The tabs stand in for users' machines: behind the servers under test, not level with them
# (`user_chromium`). On 2 cores, nice 0 left the streams short of frames and 10 starved the
# tabs (questions lost, connections slow to come up); 5 keeps both.
BROWSER_NICE: Final = 5
CONVERSATION_TRIES: Final = 3


def launch_browser(playwright: Any, tmp: Path, wav: Path, nice: int) -> Any:
    """Headless Chromium whose fake microphone plays `wav` in a loop."""
    return playwright.chromium.launch(
        executable_path=user_chromium(tmp, nice),
        headless=True,
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}"],
    )


def open_conversation(page: Any, drv: StudioDriver) -> None:
    """Go to the Conversation page and make sure the tab stays there. On a saturated machine
    a tab once showed the Conversation heading and then fell back to the home page (Avatar
    Studio), where "Start" started a Studio session: the stream had video but no voice
    turns. The page is only taken once it is still the Conversation page after its run."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(CONVERSATION_TRIES):
        page.get_by_role("link", name="Conversation").click(timeout=PAGE_LOAD_MS)
        page.get_by_role("heading", name="Conversation").wait_for(timeout=PAGE_LOAD_MS)
        drv.wait_idle(PAGE_LOAD_MS)
        if (
            page.url.rstrip("/").endswith("/conversation")
            and page.get_by_role("heading", name="Conversation").is_visible()
        ):
            return
    raise PlaywrightTimeout(f"the tab did not stay on the Conversation page ({page.url})")


def start_tabs(
    browser: Any, url: str, sessions: int, tmp: Path, progress: Callable[[str], None]
) -> tuple[list[StudioDriver], list[int]]:
    """A tab per stream, each on the Conversation page with Start pressed: (the tabs that
    started, the numbers of those whose page never loaded)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    drivers, not_started = [], []
    for n in range(sessions):
        context = browser.new_context()
        context.add_init_script(PC_SPY)
        page = context.new_page()
        drv = StudioDriver(page)
        step = "open the app"
        try:
            page.goto(url, timeout=PAGE_LOAD_MS)
            drv.wait_idle(PAGE_LOAD_MS)
            step = "open the Conversation page"
            open_conversation(page, drv)
            step = "press Start"
            drv.click("Start")
        except PlaywrightTimeout:
            # A machine this busy is the finding: record it, soak with the rest.
            not_started.append(n + 1)
            shot = tmp / f"soak-tab-{n + 1}-not-loaded.png"
            with contextlib.suppress(Exception):
                page.screenshot(path=str(shot), timeout=10_000)
            progress(
                f"stream {n + 1}/{sessions}: could not {step} within "
                f"{PAGE_LOAD_MS // 1000} s (the machine is saturated; see {shot.name}); "
                "going on without it"
            )
            context.close()
            continue
        progress(f"stream {n + 1}/{sessions} started")
        drivers.append(drv)
    return drivers, not_started


def stop_tabs(
    drivers: list[StudioDriver], tmp: Path, progress: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Press Stop in every tab, after noting what it shows (its alerts, a screenshot), then
    give the stops a few seconds to go through."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    tabs = []
    for i, drv in enumerate(drivers):
        shot = tmp / f"soak-tab-{i + 1}.png"
        drv.page.screenshot(path=str(shot), full_page=True)
        tab: dict[str, Any] = {
            "alerts": drv.page.locator('[data-testid="stAlert"]').all_inner_texts(),
            "screenshot": str(shot),
            "stopped_by_click": True,
        }
        try:
            drv.page.get_by_role("button", name="Stop", exact=True).click(timeout=30_000)
        except PlaywrightTimeout:
            # Measured all the same: closing the browser below must end the session
            # (the app's tab-close path), which `sessions_left_open` then checks.
            tab["stopped_by_click"] = False
            progress(f"stream {i + 1}: no Stop button within 30 s; closing its tab")
        tabs.append(tab)
    drivers[0].page.wait_for_timeout(5000)
    return tabs
