"""A Conversation on LiveAvatar LITE (the embedded server) with the audio bridge, in a real
browser: Chromium's fake mic asks a question, the embedded voice model answers in audio, the
bridge streams that audio to the LITE socket, and the avatar's mouth moves with it in the
decoded video. The same through LiveAvatar's own connector, which runs the voice model itself.
Every turn is recorded; Stop leaves no session open."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import httpx
import numpy as np
import pytest

from lib.bench.harness import App
from lib.bench.studio_driver import StudioDriver, mouth_box_rel
from lib.bridge.agents import agents_for
from lib.metrics.latency import in_order
from lib.store.database import Store
from tests.browser.conftest import open_conversation_page

# Measures media (frame rates, lip-sync, speech timing): run alone, not beside other tests.
pytestmark = [pytest.mark.browser, pytest.mark.media]
playwright = pytest.importorskip("playwright.sync_api")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
LABEL = "Local LiveAvatar LITE (embedded)"
CONNECTOR = "LiveAvatar connector (it runs OpenAI Realtime)"
STAGES = (
    "speech_started_at",
    "speech_end_at",
    "committed_at",
    "first_delta_at",
    "first_chunk_at",
    "avatar_start_at",
    "avatar_stop_at",
)


def question_wav(tmp: Path) -> Path:
    """The hours question, then enough quiet for the whole answer (Chromium loops the file)."""
    with wave.open(str(FIXTURES / "piper_hours.wav")) as src:
        rate = src.getframerate()
        speech = np.frombuffer(src.readframes(src.getnframes()), np.int16)
    quiet = np.random.default_rng(0).normal(0, 15, rate * 20).astype(np.int16)
    out = tmp / "question.wav"
    with wave.open(str(out), "wb") as dst:
        dst.setnchannels(1)
        dst.setsampwidth(2)
        dst.setframerate(rate)
        dst.writeframes(np.concatenate([speech, quiet]).tobytes())
    return out


def live_liveavatar_sessions(base_url: str) -> list[dict]:
    resp = httpx.get(
        f"{base_url}/v1/sessions", params={"type": "active"}, headers={"X-API-KEY": "local"}
    )
    resp.raise_for_status()
    return list(resp.json()["data"]["results"])


def open_lite_conversation(p, app: App, wav: Path) -> tuple[object, object, object]:
    """Chromium on the Conversation page with the embedded LiveAvatar LITE chosen."""
    browser, _, page, driver = open_conversation_page(p, app, wav)
    page.get_by_role("combobox", name="Avatar provider").click()
    page.get_by_role("option", name=LABEL).click()
    # LITE lip-syncs audio, ours or its connector's: once the page has rerun, those alone.
    deadline = time.monotonic() + 30
    while page.get_by_text("Text → avatar voice").count():
        assert time.monotonic() < deadline, "the bridge still offers text → avatar voice"
        page.wait_for_timeout(200)
    assert page.get_by_text("Audio → avatar lip-sync").count() == 1
    assert page.get_by_text(CONNECTOR).count() == 1
    driver.wait_idle()
    driver.choose("Avatar quality", "low")  # 360p, as measured before: less to encode
    return browser, page, driver


def wait_heard_turn(store: Store, page, bridge: str, timeout_s: float = 120):
    """The first done turn of a `bridge` conversation that answered the hours question,
    with the avatar's span."""
    deadline = time.monotonic() + timeout_s
    while True:
        turns = store.frame(
            "SELECT t.* FROM turns t JOIN conversations c ON c.id = t.conversation_id "
            "WHERE c.bridge = ? ORDER BY t.seq",
            (bridge,),
        )
        done = turns[
            (turns["status"] == "done")
            & turns["avatar_stop_at"].notna()
            & turns["user_text"].str.lower().str.contains("opening hours", na=False)
        ]
        if len(done):
            return done.iloc[0]
        shown = turns[["seq", "source", "status", "user_text", "avatar_start_at", "error"]]
        assert time.monotonic() < deadline, shown.to_dict("records")
        page.wait_for_timeout(250)


def mouth_moved(driver: StudioDriver, turn) -> None:
    t0, t1 = float(turn["avatar_start_at"]), float(turn["avatar_stop_at"])
    mouth = [x.mouth for x in driver.samples() if x.mouth is not None and t0 <= x.t <= t1]
    assert len(mouth) > 10 and max(mouth) - min(mouth) > 0.02, mouth


def stop_and_check(page, base_url: str) -> None:
    page.get_by_role("button", name="Stop", exact=True).click()
    deadline = time.monotonic() + 15
    while live_liveavatar_sessions(base_url) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert live_liveavatar_sessions(base_url) == []


def test_a_conversation_on_liveavatar_lite_lip_syncs_the_models_audio(
    conversation_app, local_heygen, tmp_path
):
    store = Store(str(conversation_app.log_path.parent / "avatarlab.db"))
    with playwright.sync_playwright() as p:
        browser, page, driver = open_lite_conversation(p, conversation_app, question_wav(tmp_path))
        driver.click("Start")
        avatar = agents_for("concierge")[0].avatar_id
        driver.install_monitor(mouth_box_rel(avatar, 640, 360), timeout_s=60)
        assert driver.wait_until(lambda: driver.stats()["state"] == "connected", 120)
        turn = wait_heard_turn(store, page, "audio")
        assert in_order(turn.to_dict(), STAGES), turn.to_dict()
        chunks = store.frame("SELECT * FROM chunks WHERE turn_id = ?", (turn["id"],))
        assert set(chunks["kind"]) == {"audio"} and set(chunks["status"]) == {"done"}
        spoken_s = turn["avatar_stop_at"] - turn["avatar_start_at"]
        assert abs(spoken_s * 1000 - chunks["audio_ms"].sum()) < 0.2 * chunks["audio_ms"].sum()
        mouth_moved(driver, turn)  # the mouth moved in the decoded video while it spoke
        sessions = store.frame("SELECT provider FROM avatar_sessions")
        assert set(sessions["provider"]) == {"local-liveavatar-lite"}
        stop_and_check(page, local_heygen.base_url)
        browser.close()


def test_a_conversation_through_liveavatars_connector(conversation_app, local_heygen, tmp_path):
    """LiveAvatar runs the voice model: the question goes into its room, its answer is
    lip-synced, and the turn is recorded from what the room reports."""
    store = Store(str(conversation_app.log_path.parent / "avatarlab.db"))
    with playwright.sync_playwright() as p:
        browser, page, driver = open_lite_conversation(p, conversation_app, question_wav(tmp_path))
        page.get_by_text(CONNECTOR).click()
        driver.wait_idle()
        driver.click("Start")
        avatar = agents_for("concierge")[0].avatar_id
        driver.install_monitor(mouth_box_rel(avatar, 640, 360), timeout_s=60)
        assert driver.wait_until(lambda: driver.stats()["state"] == "connected", 120)
        turn = wait_heard_turn(store, page, "connector")
        assert in_order(
            turn.to_dict(),
            ("speech_started_at", "speech_end_at", "avatar_start_at", "avatar_stop_at"),
        ), turn.to_dict()
        assert str(turn["assistant_text"]).strip()
        assert store.frame("SELECT * FROM chunks WHERE turn_id = ?", (turn["id"],)).empty
        mouth_moved(driver, turn)
        stop_and_check(page, local_heygen.base_url)
        browser.close()
