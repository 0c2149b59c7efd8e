from types import SimpleNamespace
from typing import Any

from lib.bridge.timeline import Turn
from lib.ui.live_panel import live_panel_html, status_html


def _snap(**over: Any) -> Any:
    """A ConversationSnapshot's shape, with only what the panel reads."""
    base: dict[str, Any] = {
        "state": "live",
        "brain": SimpleNamespace(state="listening", reconnects=0),
        "avatar": SimpleNamespace(state="live"),
        "bridge": SimpleNamespace(agent="concierge", speaking=False, thinking=False, turns=()),
        "waiting_for_model": False,
        "brain_ready_s": 0.42,
        "avatar_ready_s": 0.9,
        "switch_ms": (),
        "gaps_ms": (),
        "replacing": False,
    }
    base.update(over)
    return SimpleNamespace(**base)


def test_status_says_what_the_conversation_does_and_escapes_names():
    html = status_html(
        _snap(
            bridge=SimpleNamespace(agent="<b>x</b>", speaking=True, thinking=True, turns=()),
            waiting_for_model=True,
            brain=SimpleNamespace(state="responding", reconnects=2),
        )
    )
    assert "<b>Answering</b>" in html and "avatar speaking" in html
    assert "running a tool" in html and "waiting for the model" in html and "2 reconnects" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_voice_only_is_shown_instead_of_the_avatar_state():
    html = status_html(
        _snap(state="audio_only", bridge=SimpleNamespace(agent="a", speaking=True, thinking=False))
    )
    assert "voice only" in html and "avatar speaking" not in html


def test_panel_is_one_block_with_readiness_waterfall_and_transcript():
    turn = Turn(
        id="t1",
        seq=1,
        source="voice",
        user_text="Where is the <script> desk?",
        assistant_text="By the door.",
        status="done",
        stamps={"speech_end_at": 100.0, "committed_at": 100.2, "avatar_start_at": 101.1},
    )
    snap = _snap(
        bridge=SimpleNamespace(agent="concierge", speaking=False, thinking=False, turns=(turn,))
    )
    html = live_panel_html(snap, mic_level=0.1, now=102.0)
    assert "model ready 0.42 s" in html and "avatar first frame 0.90 s" in html
    assert "mic ▮▮▮▮" in html
    assert "Turn 1 (done) · end to end 1100 ms" in html
    assert html.index("end to end") < html.index("By the door.")  # waterfall, then transcript
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Turn 1" not in live_panel_html(_snap(), mic_level=0.0)  # no turn yet: no waterfall


def test_a_replaced_avatar_shows_while_it_starts_and_its_gap_after():
    html = status_html(
        _snap(replacing=True, bridge=SimpleNamespace(agent="a", speaking=True, thinking=False))
    )
    assert "starting a new one" in html and "avatar speaking" not in html
    ready = live_panel_html(_snap(gaps_ms=(2310.4, 1804.6)), 0.0)
    assert "avatar replaced 2 times, last gap 1805 ms" in ready
