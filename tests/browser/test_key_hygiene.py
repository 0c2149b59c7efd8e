"""Keys stay on the server. The whole app runs with marker keys for every provider (the real
HeyGen, LiveAvatar and OpenAI code paths, pointed at the local servers that accept exactly
those keys); every page is used, exports downloaded; then the markers are looked for in
everything that left the server (page HTML, iframes, websocket frames — component arguments
ride on them — HTTP responses), the app's log, the database files and the exports."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.bench.harness import CHROMIUM, CHROMIUM_ARGS, ROOT, App, streamlit_app
from lib.bench.studio_driver import StudioDriver
from lib.emulators.launcher import EmulatorProcess, start_emulator

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api")

HEYGEN = "marker-heygen-7f3a91"
LIVEAVATAR = "marker-liveavatar-52c0de"
OPENAI = "marker-openai-b4d2e8"
LOCAL = "marker-local-3d9a40"  # the key the app calls the embedded server with
MARKERS = (HEYGEN, LIVEAVATAR, OPENAI, LOCAL)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[EmulatorProcess, EmulatorProcess, EmulatorProcess]]:
    heygen = start_emulator("heygen", "--api-key", HEYGEN)
    liveavatar = start_emulator("heygen", "--api-key", LIVEAVATAR)
    realtime = start_emulator("realtime", "--api-key", OPENAI, "--ttft-ms", "0")
    yield heygen, liveavatar, realtime
    for emu in (heygen, liveavatar, realtime):
        emu.stop()


@pytest.fixture(scope="module")
def app(servers, local_heygen, tmp_path_factory) -> Iterator[App]:
    heygen, liveavatar, realtime = servers
    env = {
        "HEYGEN_API_KEY": HEYGEN,
        "HEYGEN_BASE_URL": heygen.base_url,
        "LIVEAVATAR_API_KEY": LIVEAVATAR,
        "LIVEAVATAR_BASE_URL": liveavatar.base_url,
        "OPENAI_API_KEY": OPENAI,
        "OPENAI_REALTIME_URL": realtime.base_url.replace("http://", "ws://") + "/v1",
        "OPENAI_BASE_URL": realtime.base_url + "/v1",
        "AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url,
        "AVATARLAB_LOCAL_KEY": LOCAL,  # local_heygen takes any key
        "AVATARLAB_PRICING_DIR": str(tmp_path_factory.mktemp("pricing")),
    }
    with streamlit_app(tmp_path_factory.mktemp("keys"), env) as running:
        yield running


def choose_provider(page, studio: StudioDriver, label: str) -> None:
    """Pick the Studio's provider and wait for the page to have rerun with it. The box unlocks
    once the last session has stopped (a rerun of its own, which closes an open list: then
    open it again)."""
    page.wait_for_function(
        """() => { const i = document.querySelector('input[aria-label="Provider"]');
                   return !!i && !i.disabled; }""",
        timeout=30_000,
    )
    studio.wait_idle(60_000)
    for attempt in range(3):
        page.get_by_role("combobox", name="Provider").click()
        try:
            page.get_by_role("option", name=label).click(timeout=5_000)
            break
        except playwright.Error:
            if attempt == 2:
                raise
            studio.wait_idle(60_000)
    page.wait_for_function(
        "(want) => document.querySelector('input[aria-label=\"Provider\"]').value === want",
        arg=label,
        timeout=30_000,
    )
    page.wait_for_timeout(1500)  # the rerun starts a moment after the choice
    studio.wait_idle(60_000)


def goto(page, studio: StudioDriver, name: str) -> None:
    """Open a page from the sidebar once the current one is idle (a click during a rerun
    can be lost: try again)."""
    for attempt in range(3):
        studio.wait_idle(60_000)
        page.get_by_role("link", name=name).click()
        try:
            page.get_by_role("heading", name=name).first.wait_for(timeout=20_000)
            break
        except playwright.TimeoutError:
            if attempt == 2:
                raise
    studio.wait_idle(60_000)


def leaks(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


def test_no_key_reaches_the_browser_logs_database_or_exports(app, tmp_path):
    seen: list[str] = []  # everything the server sent
    downloads: list[Path] = []
    with playwright.sync_playwright() as p:
        # A quiet mic: Chromium's default fake device beeps, and server VAD would take a beep
        # for the user speaking over the typed question's answer (barge-in).
        quiet = tmp_path / "quiet.wav"
        with wave.open(str(quiet), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(24_000)
            w.writeframes(bytes(2 * 24_000 * 5))
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={quiet}"],
        )
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()

        def on_ws(ws) -> None:
            ws.on(
                "framereceived",
                lambda payload: seen.append(
                    payload if isinstance(payload, str) else payload.decode("latin-1")
                ),
            )

        def on_response(response) -> None:
            with contextlib.suppress(Exception):  # redirects and streams have no body
                seen.append(response.body().decode("latin-1"))

        page.on("websocket", on_ws)
        page.on("response", on_response)
        studio = StudioDriver(page)
        studio.open(app.url)

        def snapshot() -> None:
            seen.append(page.content())
            seen.extend(f.content() for f in page.frames if f is not page.main_frame)

        # The Studio on the real HeyGen client (the local server plays HeyGen, keyed).
        choose_provider(page, studio, "HeyGen Interactive Avatar (v1)")
        studio.click("Start")
        # The LiveKit join fails here (there is no LiveKit server): the page says so.
        page.get_by_text("LiveKit").first.wait_for(timeout=90_000)
        snapshot()
        studio.click("Stop")
        studio.wait_idle(60_000)
        # …and the embedded one, speaking.
        choose_provider(page, studio, "Local (embedded HeyGen-compatible server)")
        studio.click("Start")
        studio.live()
        studio.type_text("Keys stay on the server.")
        studio.click("Speak")
        page.wait_for_timeout(2000)
        snapshot()
        studio.click("Stop")
        studio.wait_idle(60_000)

        # A conversation with the OpenAI client, keyed, on the local Realtime server.
        goto(page, studio, "Conversation")
        studio.wait_idle()
        studio.click("Start")
        page.get_by_text("Listening", exact=True).first.wait_for(timeout=60_000)
        box = page.get_by_placeholder("…or type a message")
        box.fill("What are your opening hours?")
        box.press("Enter")
        page.get_by_text("9 am to 6 pm").first.wait_for(timeout=60_000)
        snapshot()
        studio.click("Stop")

        for name in ("Latency", "Costs", "Experiments", "Sessions", "Settings"):
            goto(page, studio, name)
            page.wait_for_timeout(1000)
            snapshot()
            if name == "Sessions":
                for label in ("sessions · CSV", "sessions · JSON"):
                    with page.expect_download() as info:
                        page.get_by_role("button", name=label).click()
                    path = tmp_path / info.value.suggested_filename
                    info.value.save_as(path)
                    downloads.append(path)
        context.close()
        browser.close()

    assert len(seen) > 100 and downloads
    # We did capture what the browser got, on every path: HeyGen's refusal, the answer.
    assert any("LiveKit" in s for s in seen)
    assert any("9 am to 6 pm" in s for s in seen)
    for text in seen:
        assert not leaks(text), f"a key reached the browser: …{text[:300]}…"
    for path in downloads:
        assert not leaks(path.read_text(errors="replace")), path
    assert not leaks(app.log()), "a key is in the app's log"
    db = app.log_path.parent / "avatarlab.db"
    for f in db.parent.glob("avatarlab.db*"):
        assert not leaks(f.read_bytes().decode("latin-1")), f"a key is in {f.name}"
    report = subprocess.run(
        [sys.executable, "-m", "lib", "report", "--json"],
        cwd=ROOT,
        env={**os.environ, "AVATARLAB_DB": str(db)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0 and report.stdout
    assert not leaks(report.stdout + report.stderr)
