"""Avatar Studio in a real browser: local session → lip-synced video and audio → nothing left."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from lib.bench.harness import PC_SPY, App, streamlit_app
from lib.bench.studio_driver import (
    StudioDriver,
    first_avatar_frame,
    first_mouth_movement,
    mouth_box_rel,
    mouth_detector_report,
)
from lib.emulators.engines.looks import AVATARS
from lib.store.database import Store
from tests.conftest import live_sessions

# Measures media (frame rates, lip-sync, speech timing): run alone, not beside other tests.
pytestmark = [pytest.mark.browser, pytest.mark.media]
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app(local_heygen, tmp_path_factory) -> Iterator[App]:
    tmp = tmp_path_factory.mktemp("studio")
    env = {"AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url, "AVATARLAB_HEARTBEAT_TIMEOUT": "5"}
    with streamlit_app(tmp, env) as running:
        yield running


@pytest.fixture
def studio(browser, app, local_heygen) -> Iterator[StudioDriver]:
    context = browser.new_context()
    context.add_init_script(PC_SPY)
    page = context.new_page()
    driver = StudioDriver(page)
    driver.open(app.url)
    before = session_ids(local_heygen.base_url)
    yield driver
    context.close()
    # Whatever the test did, or wherever it failed, closing its tab ends what it started
    # (heartbeat watchdog: 5 s here), so the next test starts from a clean server.
    left = wait_no_sessions(local_heygen.base_url, 30, ignore=before)
    assert left == [], f"the test's tab closed 30 s ago and its sessions are still live: {left}"


def session_ids(base_url: str) -> set[str]:
    return {s["session_id"] for s in live_sessions(base_url)}


def wait_no_sessions(base_url: str, timeout_s: float, ignore: set[str] = frozenset()) -> list[dict]:
    """Waits until the server lists no session besides `ignore`; returns what is left."""

    def left() -> list[dict]:
        return [s for s in live_sessions(base_url) if s["session_id"] not in ignore]

    deadline = time.monotonic() + timeout_s
    sessions = left()
    while sessions and time.monotonic() < deadline:
        time.sleep(0.25)
        sessions = left()
    return sessions


def test_local_session_speaks_lipsynced_then_leaves_nothing(studio, app, local_heygen):
    before = session_ids(local_heygen.base_url)
    avatar = AVATARS[0].avatar_id
    t_click = studio.click("Start")
    studio.install_monitor(mouth_box_rel(avatar))
    assert studio.wait_until(lambda: first_avatar_frame(studio.samples(), t_click) is not None, 20)
    studio.live()
    assert studio.peer_connections() == 1  # one Start, one offer, one connection

    fps = studio.decoded_fps(3.0)
    assert fps >= 20, f"browser decoded {fps:.1f} fps"
    stats = studio.stats()
    assert stats["video"]["width"] == 854 and stats["video"]["height"] == 480

    # Idle: the mouth rests.
    studio.page.wait_for_timeout(1500)
    t_speak_typed = studio.now()
    idle = [
        s.mouth
        for s in studio.samples()
        if s.mouth is not None and t_speak_typed - 1.5 <= s.t < t_speak_typed
    ]
    audio_before = studio.stats()["audio"]

    studio.type_text("Hello there, I am speaking now. Watch my mouth move while I talk to you.")
    t_speak = studio.click("Speak")
    studio.speaking()
    t_talk = studio.now()
    studio.page.wait_for_timeout(2000)  # the sentence lasts ~4 s: sample the middle of it
    t_mid = studio.now()
    samples = studio.samples()
    after_speak = [x for x in samples if x.t >= t_speak]
    assert first_mouth_movement(samples, t_speak) is not None, (
        f"{len(after_speak)} frames after Speak; last frame {samples[-1].t - t_speak:+.2f} s; "
        f"mouth {[round(x.mouth or 0, 3) for x in after_speak[:40]]}; "
        f"{mouth_detector_report(samples, t_speak)}; stats {studio.stats()}; "
        f"app log: {app.log()[-3000:]}"
    )
    talking = [s.mouth for s in studio.samples() if s.mouth is not None and t_talk <= s.t < t_mid]
    audio_during = studio.stats()["audio"]

    assert len(idle) > 20 and len(talking) > 20
    idle_spread = max(idle) - min(idle)
    talk_spread = max(talking) - min(talking)
    assert talk_spread > 0.02, f"mouth barely moved while speaking ({talk_spread:.3f})"
    print(f"mouth darkness spread: idle {idle_spread:.4f}, talking {talk_spread:.4f}")
    assert talk_spread > 3 * idle_spread, (idle_spread, talk_spread)

    # Audio arrives, and carries the speech (energy rises while talking).
    assert audio_during["samples"] > audio_before["samples"]
    assert audio_during["energy"] - audio_before["energy"] > 1e-4

    # After speaking the mouth rests again.
    studio.page.get_by_text("avatar listening").first.wait_for(timeout=20_000)
    studio.page.wait_for_timeout(1200)
    t_end = studio.now()
    after = [s.mouth for s in studio.samples() if s.mouth is not None and t_end - 1.0 <= s.t]
    assert max(after) - min(after) < max(talk_spread / 3, 2 * idle_spread + 0.01)
    assert statistics.median(after) < statistics.median(talking) + 0.01

    studio.click("Stop")
    assert wait_no_sessions(local_heygen.base_url, 10, ignore=before) == []

    store = Store(app.log_path.parent.joinpath("avatarlab.db").as_posix())
    # The provider forgets the session first; the app records the stop right after.
    deadline = time.monotonic() + 10
    while store.sessions().iloc[0]["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.1)
    row = store.sessions().iloc[0]
    assert row["status"] == "stopped" and row["first_frame_at"] >= row["requested_at"]
    tasks = store.tasks(row["id"])
    assert len(tasks) == 1
    task = tasks.iloc[0]
    assert task["status"] == "done" and task["duration_ms"] > 1000
    assert task["requested_at"] <= task["started_at"] < task["stopped_at"]
    kinds = list(store.events(row["id"])["kind"])
    for kind in (
        "first_frame",
        "avatar_start_talking",
        "avatar_talking_message",
        "avatar_end_message",
        "avatar_stop_talking",
    ):
        assert kind in kinds
    assert kinds.index("avatar_start_talking") < kinds.index("avatar_stop_talking")


def test_leaving_the_page_stops_the_session(studio, local_heygen):
    before = session_ids(local_heygen.base_url)
    studio.click("Start")
    studio.live()
    assert len(session_ids(local_heygen.base_url) - before) == 1
    studio.page.get_by_role("link", name="Settings").click()
    studio.page.get_by_role("heading", name="Settings").wait_for(timeout=20_000)
    assert wait_no_sessions(local_heygen.base_url, 15, ignore=before) == []


def test_closing_the_tab_stops_the_session(studio, local_heygen):
    before = session_ids(local_heygen.base_url)
    studio.click("Start")
    studio.live()
    assert len(session_ids(local_heygen.base_url) - before) == 1
    studio.page.close()
    # The heartbeat watchdog (5 s in this test) or the session observer stops it.
    assert wait_no_sessions(local_heygen.base_url, 30, ignore=before) == []


PROVIDER_ENABLED = """(want) => { const i = document.querySelector('input[aria-label="Provider"]');
                              return !!i && i.disabled !== want; }"""


def test_controls_follow_a_session_the_provider_ends(studio, local_heygen):
    """Idle expiry ends the session in the background: the page says so and unlocks its
    controls by itself (no click), so a new session can be configured and started."""
    before = session_ids(local_heygen.base_url)
    studio.click("Start")
    studio.live()
    studio.page.wait_for_function(PROVIDER_ENABLED, arg=False, timeout=10_000)  # locked
    faults = f"{local_heygen.base_url}/_control/faults"
    try:
        # The control endpoint takes the server's key (this one has none: any non-empty key).
        key = {"x-api-key": "tester"}
        httpx.post(faults, json={"kind": "idle_expiry"}, headers=key, timeout=10).raise_for_status()
        studio.page.get_by_text("Session ended").first.wait_for(timeout=15_000)
        studio.page.wait_for_function(PROVIDER_ENABLED, arg=True, timeout=10_000)
    finally:
        httpx.delete(faults, headers={"x-api-key": "tester"}, timeout=10)
    assert wait_no_sessions(local_heygen.base_url, 10, ignore=before) == []
