"""Conversation in a real browser: Chromium's fake mic plays a spoken question; the embedded
Realtime server transcribes it and answers; both appear on the page."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lib.bench.harness import CHROMIUM, CHROMIUM_ARGS, App, streamlit_app
from lib.bench.studio_driver import StudioDriver
from lib.emulators.process import EmulatorProcess, start_emulator

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "speech"


def question_wav(tmp: Path) -> Path:
    """The fixture question with 2.5 s of quiet after it (Chromium loops the file)."""
    with wave.open(str(FIXTURES / "piper_hours.wav")) as src:
        rate = src.getframerate()
        pcm = np.frombuffer(src.readframes(src.getnframes()), dtype=np.int16)
    quiet = (np.random.default_rng(0).normal(0, 15, int(rate * 2.5))).astype(np.int16)
    out = tmp / "question.wav"
    with wave.open(str(out), "wb") as dst:
        dst.setnchannels(1)
        dst.setsampwidth(2)
        dst.setframerate(rate)
        dst.writeframes(np.concatenate([pcm, quiet]).tobytes())
    return out


@pytest.fixture(scope="module")
def realtime() -> Iterator[EmulatorProcess]:
    emu = start_emulator("realtime", "--ttft-ms", "0")
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def app(realtime, tmp_path_factory) -> Iterator[App]:
    tmp = tmp_path_factory.mktemp("conversation")
    with streamlit_app(tmp, {"AVATARLAB_LOCAL_REALTIME_URL": realtime.base_url}) as running:
        yield running


def test_spoken_question_gets_a_transcript_and_an_answer(app, tmp_path):
    wav = question_wav(tmp_path)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}"],
        )
        page = browser.new_page()
        page.goto(app.url)
        page.get_by_role("link", name="Conversation").click()
        page.get_by_role("heading", name="Conversation").wait_for(timeout=30_000)
        driver = StudioDriver(page)  # its waits work on any page of the app
        driver.wait_idle()
        driver.click("Start")
        # Connected to the voice model and hearing the mic before we wait for words.
        page.get_by_text("Listening", exact=True).or_(
            page.get_by_text("You are speaking", exact=True)
        ).first.wait_for(timeout=30_000)
        user = page.locator('[data-testid="stChatMessage"]').filter(has_text="opening hours")
        user.first.wait_for(timeout=120_000)  # includes WebRTC connect: ~2–20 s here
        # The concierge's hours answer, complete (it streams in token by token).
        answer = page.locator('[data-testid="stChatMessage"]').filter(has_text="4 pm")
        answer.first.wait_for(timeout=30_000)
        texts = page.locator('[data-testid="stChatMessage"]').all_inner_texts()
        assert any("10 am" in t and "Saturday" in t for t in texts), texts
        page.get_by_role("button", name="Stop", exact=True).click()
        browser.close()
