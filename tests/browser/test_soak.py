"""The soak command itself, short: one real tab for a minute on the embedded default."""

import pytest

from lib.bench import soak

# Measures media (frame rates, every question heard): run alone, not beside other tests.
pytestmark = [pytest.mark.browser, pytest.mark.media]


def test_a_short_soak_hears_every_question_and_leaves_no_session_open():
    lines: list[str] = []
    out = soak.run(sessions=1, minutes=1.0, progress=lines.append)
    assert out["sessions_started"] == 1 and not out["tabs_not_loaded"], lines
    (stream,) = out["streams"]
    # A minute of the looping mic holds about four questions; the first may be cut by connect.
    assert stream["turns_recorded"] >= 2 and stream["turns_with_words"] >= 2, stream
    assert stream["turns_missed"] == 0 and stream["missed_after_s"] == [], stream
    assert stream["mic_pace_s"] >= out["mic_pace_file_s"] * 0.9, stream
    assert out["sessions_left_open"] == {"local_server": 0, "store": 0}
    assert out["meets_targets"]["no_sessions_left"] and out["meets_targets"]["every_turn_recorded"]
    (fps,) = out["fps_per_stream"]
    assert fps["median"] and fps["median"] > 5, out["fps_per_stream"]
    # One Start, one connection, even from a tab that stands behind the servers: the start
    # no longer races itself into several peer connections (lib.patches.streamlit_webrtc).
    assert out["browser_nice"] > 0 and fps["reconnects"] == 0, fps
    assert out["e2e_ms"]["n"] >= 1 and out["e2e_ms"]["p50"] > 0
    assert out["memory_mb"]["end"] > 0 and any("fps" in line for line in lines)
