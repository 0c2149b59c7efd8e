"""The Latency and Costs pages in a real browser against a seeded store: every chart renders
(plotly draws its traces), and the screenshots are kept for people to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib.bench.harness import CHROMIUM, CHROMIUM_ARGS, ROOT, App, streamlit_app
from lib.bench.seed_store import seed
from lib.store.database import Store

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api")
SHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def app(local_heygen, tmp_path_factory) -> Iterator[App]:
    tmp = tmp_path_factory.mktemp("analytics")
    seed(Store(str(tmp / "avatarlab.db")), sessions=40, turns=400)
    env = {"AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url}
    with streamlit_app(tmp, env) as running:
        yield running


@pytest.mark.parametrize(("name", "charts"), [("Latency", 4), ("Costs", 3)])
def test_page_draws_its_charts(app, name, charts):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 3400})
        page.goto(app.url)
        page.get_by_role("link", name=name).click()
        page.get_by_role("heading", name=name).first.wait_for(timeout=60_000)
        page.wait_for_function(
            f"document.querySelectorAll('.js-plotly-plot').length >= {charts}", timeout=60_000
        )
        # Every chart drew data: plotly puts one <g class="trace"> per series it rendered.
        traces = page.evaluate(
            "[...document.querySelectorAll('.js-plotly-plot')]"
            ".map(p => p.querySelectorAll('.cartesianlayer g.trace').length)"
        )
        assert len(traces) == charts and all(n > 0 for n in traces), traces
        assert page.locator('[data-testid="stException"]').count() == 0
        path = Path(SHOTS / f"{name.lower()}.png")
        page.screenshot(path=str(path), full_page=True)
        browser.close()
    img = np.asarray(Image.open(path).convert("L"), dtype=float)
    assert img.std() > 10  # not a blank page
