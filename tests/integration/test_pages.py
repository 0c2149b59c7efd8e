"""Every page through Streamlit's AppTest (no browser): renders, lists, errors, key hygiene."""

from __future__ import annotations

import time

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from lib.bench.harness import ROOT
from lib.emulators.engines.looks import AVATARS
from lib.emulators.launcher import start_emulator
from tests.conftest import live_sessions

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("webrtc_under_apptest")]
PAGES = ["studio", "conversation", "latency", "costs", "experiments", "sessions", "settings"]


def app_test(monkeypatch, tmp_db, base_url: str) -> AppTest:
    monkeypatch.setenv("AVATARLAB_LOCAL_HEYGEN_URL", base_url)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def shutdown(at: AppTest) -> None:
    runner = at.session_state["studio_runner"] if "studio_runner" in at.session_state else None  # noqa: SIM401 - SessionState has no .get
    if runner is not None:
        runner.shutdown()


def texts(at: AppTest) -> str:
    parts = (
        [e.value for e in at.error]
        + [e.value for e in at.caption]
        + [e.value for e in at.markdown]
        + [e.value for e in at.info]
    )
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(monkeypatch, tmp_db, local_heygen, page):
    at = app_test(monkeypatch, tmp_db, local_heygen.base_url)
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    try:
        assert not at.exception, at.exception
        assert not any("Not built yet" in str(i.value) for i in at.info)
    finally:
        shutdown(at)


def test_studio_lists_come_from_the_provider(monkeypatch, tmp_db, local_heygen):
    at = app_test(monkeypatch, tmp_db, local_heygen.base_url)
    at.run()
    try:
        avatar_box = next(s for s in at.selectbox if s.label == "Avatar")
        assert avatar_box.label == "Avatar"
        names = {a.pose_name for a in AVATARS}  # HeyGen lists pose_name, not a name
        assert names <= set(avatar_box.options)
        voice_box = next(s for s in at.selectbox if s.label == "Voice")
        assert len(voice_box.options) >= 6
    finally:
        shutdown(at)


def test_wrong_key_shows_the_providers_message_and_what_to_do(monkeypatch, tmp_db):
    emu = start_emulator("heygen", "--api-key", "only-this-key")
    try:
        at = app_test(monkeypatch, tmp_db, emu.base_url)
        at.run()
        assert not at.exception
        assert "Unauthorized" in [e.value for e in at.error]
        assert "What to do" in texts(at)
        shutdown(at)
    finally:
        emu.stop()


def wait_state(at: AppTest, states: tuple[str, ...], timeout: float = 20) -> str:
    runner = at.session_state["studio_runner"]
    deadline = time.monotonic() + timeout
    while runner.snapshot().state not in states and time.monotonic() < deadline:
        time.sleep(0.05)
    return runner.snapshot().state


def test_over_the_limit_shows_the_message(monkeypatch, tmp_db):
    emu = start_emulator("heygen", "--concurrency-limit", "1")
    try:
        headers = {"x-api-key": "k"}
        token = httpx.post(
            f"{emu.base_url}/v1/streaming.create_token", headers=headers, json={}
        ).json()["data"]["token"]
        httpx.post(
            f"{emu.base_url}/v1/streaming.new",
            json={"avatar_id": AVATARS[0].avatar_id},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
        at = app_test(monkeypatch, tmp_db, emu.base_url)
        at.run()
        at.button[0].click().run()  # Start
        assert wait_state(at, ("error", "live")) == "error"
        at.run()
        assert any("Concurrent limit reached" in e.value for e in at.error)
        assert "stop your other sessions" in texts(at)
        assert len(live_sessions(emu.base_url)) == 1  # ours never started
        shutdown(at)
    finally:
        emu.stop()


@pytest.mark.parametrize(
    ("field", "value", "names"),
    [
        ("custom_avatar", "Ghost_public", "avatar"),
        ("custom_voice", "no-such-voice", "voice"),
    ],
)
def test_unknown_custom_avatar_or_voice_is_refused_with_what_to_do(
    monkeypatch, tmp_db, local_heygen, field, value, names
):
    at = app_test(monkeypatch, tmp_db, local_heygen.base_url)
    at.run()
    try:
        at.text_input(key=field).input(value).run()
        at.button[0].click().run()
        assert wait_state(at, ("error", "live")) == "error"
        at.run()
        errors = [str(e.value) for e in at.error]
        assert any("Invalid parameter" in e and names in e.lower() for e in errors), errors
        assert "What to do" in texts(at)
    finally:
        shutdown(at)


def test_start_speak_stop_through_the_page(monkeypatch, tmp_db, local_heygen):
    at = app_test(monkeypatch, tmp_db, local_heygen.base_url)
    at.run()
    try:
        at.button[0].click().run()
        assert wait_state(at, ("live", "error")) == "live"
        at.run()
        speak = next(b for b in at.button if b.label == "Speak")
        assert not speak.disabled
        at.text_area(key="studio_text").input("Testing one two.").run()
        next(b for b in at.button if b.label == "Speak").click().run()
        runner = at.session_state["studio_runner"]
        deadline = time.monotonic() + 15
        while not any("Testing" in t for t in runner.snapshot().transcript):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        next(b for b in at.button if b.label == "Stop").click().run()
        assert runner.snapshot().state == "ended"
        assert live_sessions(local_heygen.base_url) == []
    finally:
        shutdown(at)


def test_settings_never_shows_a_key(monkeypatch, tmp_db, local_heygen):
    monkeypatch.setenv("HEYGEN_API_KEY", "test-MARKER-never-shown-0001")
    at = app_test(monkeypatch, tmp_db, local_heygen.base_url)
    at.run()
    at.switch_page("pages/settings.py").run()
    try:
        assert not at.exception
        frame = at.dataframe[0].value
        assert set(frame[frame["provider"] == "heygen"]["usable"]) == {"yes"}
        dump = str(at._tree) + frame.to_csv()
        assert "MARKER" not in dump
    finally:
        shutdown(at)


def test_conversation_page_bridges_the_model_to_the_avatar(monkeypatch, tmp_db, local_heygen):
    emu = start_emulator("realtime", "--ttft-ms", "0")
    try:
        monkeypatch.setenv("AVATARLAB_LOCAL_REALTIME_URL", emu.base_url)
        at = app_test(monkeypatch, tmp_db, local_heygen.base_url)
        at.run()
        at.switch_page("pages/conversation.py").run()
        assert not at.exception
        assert "Embedded Realtime server" in texts(at)
        assert "simulated" in texts(at)
        next(b for b in at.button if b.label == "Start").click().run()
        conv = at.session_state["conversation_live"]
        deadline = time.monotonic() + 30
        while conv.snapshot().state != "live":
            assert time.monotonic() < deadline, conv.snapshot()
            time.sleep(0.05)
        conv.send_text("Where can I park?")
        deadline = time.monotonic() + 30
        while not (turns := conv.bridge.snapshot().turns) or turns[-1].status == "open":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert turns[-1].status == "done", turns[-1].error
        at.run()
        assert not at.exception
        # The transcript: one HTML block with the question and the answer.
        said = [h.proto.body for h in at.get("html") if 'class="transcript"' in h.proto.body]
        assert said and "Where can I park?" in said[-1] and "turn-assistant" in said[-1]
        # The live waterfall: an HTML block titled with the turn and its end-to-end time.
        waterfalls = [h.proto.body for h in at.get("html") if "Turn " in h.proto.body]
        assert waterfalls and "end to end" in waterfalls[-1]
        next(b for b in at.button if b.label == "Stop").click().run()
        assert "conversation_live" not in at.session_state
        assert conv.brain.snapshot().state == "offline" and not conv.runner.alive
        # The Stop button says so in the paid session's record.
        reasons = conv.store.frame(
            "SELECT stop_reason FROM avatar_sessions WHERE conversation_id = ?", (conv.record_id,)
        )
        assert list(reasons["stop_reason"]) == ["USER_STOPPED"]
        assert all(
            s["session_id"] != conv.snapshot().avatar.session_id
            for s in live_sessions(local_heygen.base_url)
        )
        # The recorded turn stays exportable after Stop.
        labels = [b.label for b in at.get("download_button")]
        assert "turns · CSV" in labels and "turns · PARQUET" in labels
    finally:
        emu.stop()


def test_conversation_settings_refuse_a_bad_chunk_strategy(monkeypatch, tmp_db, local_heygen):
    at = app_test(monkeypatch, tmp_db, local_heygen.base_url)
    at.run()
    at.switch_page("pages/conversation.py").run()
    next(s for s in at.selectbox if s.label == "Chunk strategy").select("custom…").run()
    next(t for t in at.text_input if t.label == "Custom strategy").input("sentences:20").run()
    assert not at.exception
    assert any(
        "unknown strategy" in str(e.value) and "sentence:20" in str(e.value) for e in at.error
    )
    assert next(b for b in at.button if b.label == "Start").disabled


def test_bad_studio_text_is_refused_or_cleaned_with_a_message(monkeypatch, tmp_db, local_heygen):
    at = app_test(monkeypatch, tmp_db, local_heygen.base_url)
    at.run()
    try:
        at.button[0].click().run()
        assert wait_state(at, ("live", "error")) == "live"
        runner = at.session_state["studio_runner"]
        at.text_area(key="studio_text").input("   \n\t ").run()
        next(b for b in at.button if b.label == "Speak").click().run()
        assert any("nothing to say" in str(e.value) for e in at.error)
        assert runner.store.tasks(runner.snapshot().record_id).empty  # nothing was sent
        # (Longer than 2,000 characters cannot be typed: the text box stops there.)
        # Control characters are dropped; any script is spoken.
        at.text_area(key="studio_text").input("Hello\x07 你好 مرحبا\x00 👋").run()
        next(b for b in at.button if b.label == "Speak").click().run()
        tasks = runner.store.tasks(runner.snapshot().record_id)
        assert list(tasks["text"]) == ["Hello 你好 مرحبا 👋"]
        deadline = time.monotonic() + 20
        while runner.store.tasks(runner.snapshot().record_id)["status"].iloc[0] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        shutdown(at)


@pytest.mark.parametrize("page", ["studio", "conversation", "latency", "costs", "sessions"])
def test_a_corrupt_database_is_explained_on_every_page(monkeypatch, tmp_path, local_heygen, page):
    bad = tmp_path / "avatarlab.db"
    bad.write_bytes(b"not a database at all " * 200)
    monkeypatch.setenv("AVATARLAB_DB", str(bad))
    from lib.store import database as store_module

    monkeypatch.setattr(store_module, "_shared", {})  # no Store cached from an earlier test
    at = app_test(monkeypatch, str(bad), local_heygen.base_url)
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    if page == "conversation":  # its avatar lists need the store too: said before Start
        assert next(b for b in at.button if b.label == "Start").disabled
    assert not at.exception, at.exception
    shown = " ".join(str(e.value) for e in at.error)
    assert "cannot open the database" in shown and "AVATARLAB_DB" in shown, shown


def test_studio_on_liveavatar_lite_says_it_has_no_voice_of_its_own(
    monkeypatch, tmp_db, local_heygen
):
    """LITE lip-syncs audio it is sent: the Studio lists LiveAvatar's own avatars for it and,
    instead of a Speak box that could only fail, says where to hear it speak."""
    at = app_test(monkeypatch, tmp_db, local_heygen.base_url)
    at.run()
    try:
        provider = next(s for s in at.selectbox if s.label == "Provider")
        assert "Local LiveAvatar LITE (embedded)" in provider.options
        provider.set_value("local-liveavatar-lite").run()
        assert not at.exception, at.exception
        avatars = next(s for s in at.selectbox if s.label == "Avatar")
        assert avatars.options  # LiveAvatar's list (GET /v1/avatars/public)
        assert any("lip-syncs audio it is sent" in str(i.value) for i in at.info)
        speak = next(b for b in at.button if b.label == "Speak")
        assert speak.disabled
        assert next(t for t in at.text_area if t.label.startswith("What should")).disabled
    finally:
        shutdown(at)
