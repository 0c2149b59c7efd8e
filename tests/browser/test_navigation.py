"""The first tab of a fresh app process gets the app's own navigation, even when it clicks a
page link at once.

Streamlit takes a folder named `pages/` for its older multipage mode (every script there a
page of its own, run without app.py) until some run of the process calls `st.navigation`. The
soak's first tab clicked "Conversation" during the first, slow run: its session stayed in
that mode (no sidebar, no page-leave cleanup, no reaper) and its conversation was stopped by
a cleanup filed under the wrong page ~7 s after Start."""

from __future__ import annotations

import pytest

from lib.bench.harness import CHROMIUM, CHROMIUM_ARGS, streamlit_app

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api")


def test_a_page_link_clicked_during_the_first_run_opens_the_app_s_page(tmp_path, local_heygen):
    env = {"AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url}
    with streamlit_app(tmp_path, env) as app, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(app.url)
        # As soon as any link to the Conversation page shows (case-insensitive, as the older
        # mode names it after the file), click it: the first run is still going.
        page.get_by_role("link", name="Conversation").click(timeout=60_000)
        page.get_by_role("heading", name="Conversation").wait_for(timeout=60_000)
        # The app's own navigation and sidebar (drawn by app.py), not the folder's.
        page.get_by_text("Avatar providers").wait_for(timeout=30_000)
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Avatar Studio" in nav and "studio" not in nav.split(), nav
        browser.close()
