"""The first run in a real browser: on an empty lab the Latency page's one button runs the demo
sweep, which keeps running while the tab visits three other pages and reloads, and then Latency,
Costs, Experiments and Sessions show the turns it recorded, with no other action."""

from __future__ import annotations

import re

import pytest

from lib.bench.harness import CHROMIUM, CHROMIUM_ARGS, streamlit_app
from lib.runtime.demo_sweep import DEMO_PLAN
from lib.store.database import Store

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

RUNNING = "The demo sweep is recording real turns"


def test_the_demo_sweep_fills_the_analytics_pages_across_page_changes_and_a_reload(
    tmp_path, local_heygen, local_realtime
):
    env = {
        "AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url,
        "AVATARLAB_LOCAL_REALTIME_URL": local_realtime.base_url,
    }
    turns = DEMO_PLAN.turns_total
    with streamlit_app(tmp_path, env) as app, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        page.goto(app.url)

        def visit(name: str) -> None:
            page.get_by_role("link", name=name, exact=True).first.click()
            page.get_by_role("heading", name=name).first.wait_for(timeout=60_000)

        visit("Latency")
        page.get_by_text("Nothing is recorded yet").wait_for(timeout=30_000)
        page.get_by_role("button", name="Run the demo sweep").click()
        page.get_by_text(RUNNING).wait_for(timeout=30_000)
        for name in ("Costs", "Sessions", "Experiments"):
            visit(name)
            # The sweep is still going, shown in the sidebar of every page.
            page.locator('[data-testid="stSidebar"]').get_by_text("demo sweep").first.wait_for(
                timeout=30_000
            )
        page.reload()
        page.get_by_role("heading", name="Experiments").first.wait_for(timeout=60_000)
        visit("Latency")
        # The page fills in as turns are recorded and redraws itself once the sweep is done.
        page.get_by_text(RUNNING).wait_for(state="detached", timeout=150_000)
        metric = page.get_by_test_id("stMetric").filter(has_text="Turns").first
        expect(metric).to_contain_text(re.compile(rf"Turns\s*{turns}\s*$"), timeout=30_000)
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 3")

        visit("Costs")
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 2")
        assert page.get_by_text("Nothing is recorded yet").count() == 0
        visit("Experiments")
        page.get_by_text("2 configurations compared").first.wait_for(timeout=30_000)
        table = page.get_by_test_id("stDataFrame").first
        table.wait_for(timeout=30_000)
        visit("Sessions")
        page.get_by_test_id("stDataFrame").first.wait_for(timeout=30_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        browser.close()

    store = Store(str(tmp_path / "avatarlab.db"))
    exp = store.frame("SELECT name, status FROM experiments")
    assert exp.to_dict("records") == [{"name": "demo sweep", "status": "done"}]
    recorded = store.frame("SELECT status FROM turns WHERE source != 'agent'")
    assert len(recorded) == turns and set(recorded["status"]) == {"done"}
    convs = store.frame("SELECT chunking, status FROM conversations")
    assert sorted(convs["chunking"]) == ["sentence:20", "whole"]
    assert set(store.frame("SELECT status FROM avatar_sessions")["status"]) == {"stopped"}
