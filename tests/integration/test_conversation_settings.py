"""The Conversation page's settings through AppTest: avatars and voices from the provider's own
lists (embedded servers included), remembered for the browser session across pages, and
stored with the conversation and its avatar session."""

from __future__ import annotations

import json
import time

import pytest

from lib.emulators.engines.looks import avatar_by_id
from tests.integration.test_pages import app_test

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("webrtc_under_apptest")]


def box(at, label: str):
    return next(s for s in at.selectbox if s.label == label)


def labels(at) -> set[str]:
    return {w.label for w in (*at.selectbox, *at.slider, *at.radio)}


def test_settings_come_from_the_provider_and_are_remembered_across_pages(
    monkeypatch, tmp_db, local_heygen
):
    at = app_test(monkeypatch, tmp_db, local_heygen.base_url)
    at.run()
    at.switch_page("pages/conversation.py").run()
    assert not at.exception, at.exception
    # Defaults: the persona's own avatar and voice on the embedded server's lists, medium.
    assert box(at, "Avatar quality").value == "medium"
    box(at, "Agent").set_value("greeter").run()
    assert box(at, "Avatar for greeter").value == "Ava_Studio_public"
    assert box(at, "Avatar for specialist").value == "Marcus_Office_public"
    assert box(at, "Voice for specialist").value == "joe-us"
    assert len(box(at, "Avatar for greeter").options) == 5  # the server's avatar.list
    # The user's choices.
    box(at, "Avatar for specialist").set_value("Isla_Garden_public").run()
    box(at, "Voice for specialist").set_value("nora-nyc")
    box(at, "Emotion").set_value("serious")
    box(at, "Language").set_value("de")
    box(at, "Avatar quality").set_value("high")
    next(s for s in at.slider if s.label == "Speaking rate").set_value(1.3)
    next(r for r in at.radio if r.label == "Turns").set_value("Push to talk").run()
    assert not at.exception, at.exception

    # Another page (its run drops the conversation form's widget state), then back.
    at.switch_page("pages/latency.py").run()
    at.switch_page("pages/conversation.py").run()
    assert not at.exception, at.exception
    assert box(at, "Agent").value == "greeter"
    assert box(at, "Avatar for specialist").value == "Isla_Garden_public"
    assert box(at, "Voice for specialist").value == "nora-nyc"
    assert box(at, "Emotion").value == "serious"
    assert box(at, "Language").value == "de"
    assert box(at, "Avatar quality").value == "high"
    assert next(s for s in at.slider if s.label == "Speaking rate").value == 1.3
    assert next(r for r in at.radio if r.label == "Turns").value == "Push to talk"

    # LiveAvatar FULL (embedded): its own list, UUIDs, the persona's avatar found by name;
    # no emotion; its narrower speed range clamps the remembered rate.
    box(at, "Avatar provider").set_value("local-liveavatar").run()
    assert not at.exception, at.exception
    greeter = box(at, "Avatar for greeter")
    assert greeter.value != "Ava_Studio_public" and greeter.format_func(greeter.value) == (
        avatar_by_id("Ava_Studio_public").name
    )
    assert "Emotion" not in labels(at)
    assert next(s for s in at.slider if s.label == "Speaking rate").value == 1.2
    # LITE lip-syncs our audio: an avatar per agent, no voice, rate or language.
    box(at, "Avatar provider").set_value("local-liveavatar-lite").run()
    assert not at.exception, at.exception
    assert {"Avatar for greeter", "Avatar for specialist"} <= labels(at)
    assert not labels(at) & {"Voice for greeter", "Speaking rate", "Language", "Emotion"}
    # Back on the embedded HeyGen server: that provider's picks are still there.
    box(at, "Avatar provider").set_value("local").run()
    assert box(at, "Avatar for specialist").value == "Isla_Garden_public"
    assert box(at, "Emotion").value == "serious"


def test_the_conversation_stores_its_settings_and_the_avatar_session_gets_them(
    monkeypatch, tmp_db, local_heygen, local_realtime
):
    monkeypatch.setenv("AVATARLAB_LOCAL_REALTIME_URL", local_realtime.base_url)
    at = app_test(monkeypatch, tmp_db, local_heygen.base_url)
    at.run()
    at.switch_page("pages/conversation.py").run()
    box(at, "Avatar for concierge").set_value("Kenji_Casual_public").run()
    box(at, "Voice for concierge").set_value("devon-029")
    box(at, "Emotion").set_value("soothing")
    box(at, "Language").set_value("fr")
    next(s for s in at.slider if s.label == "Speaking rate").set_value(0.9)
    next(r for r in at.radio if r.label == "Turns").set_value("Push to talk").run()
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception, at.exception  # the page with its hold-to-talk control
    conv = at.session_state["conversation_live"]
    try:
        deadline = time.monotonic() + 30
        while conv.snapshot().avatar.state != "live":
            assert time.monotonic() < deadline, conv.snapshot()
            time.sleep(0.05)
        record = conv.store.get("conversations", conv.record_id)
        stored = json.loads(record["config"])
        assert stored["agents"] == [
            {"name": "concierge", "avatar_id": "Kenji_Casual_public", "avatar_voice": "devon-029"}
        ]
        assert (stored["quality"], stored["emotion"], stored["rate"], stored["language"]) == (
            "medium",
            "soothing",
            0.9,
            "fr",
        )
        assert stored["bridge"]["emotion_per_chunk"] is False  # the chosen one holds
        assert stored["turn"]["kind"] == "push_to_talk"
        session = conv.store.frame(
            "SELECT * FROM avatar_sessions WHERE conversation_id = ?", (conv.record_id,)
        ).iloc[0]
        assert (session["avatar_id"], session["voice_id"], session["quality"]) == (
            "Kenji_Casual_public",
            "devon-029",
            "medium",
        )
        assert (session["emotion"], session["rate"], session["language"]) == ("soothing", 0.9, "fr")
    finally:
        next(b for b in at.button if b.label == "Stop").click().run()
