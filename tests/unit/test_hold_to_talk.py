"""The push-to-talk control's clock: browser times put on the server's clock."""

from __future__ import annotations

import pytest

from lib.ui.hold_to_talk import BrowserClock, _server_time

OFFSET = 1234.5  # the browser's clock is this far behind the server's (seconds)


def test_browser_times_land_on_the_server_clock_within_the_quickest_delivery():
    clock = BrowserClock()
    # (browser time of the event, delivery delay): the second delivery is slow (a busy run).
    events = [(100.0, 0.040), (102.5, 0.300), (104.0, 0.012), (106.0, 0.200)]
    got = []
    for at, delay in events:
        arrived = at + OFFSET + delay
        got.append(clock.to_server(at * 1000, 1.0, arrived))
        assert got[-1] <= arrived  # never after its own arrival
    # Each is off by no more than the quickest delivery seen so far.
    assert got[0] == pytest.approx(100.0 + OFFSET + 0.040)
    assert got[1] == pytest.approx(102.5 + OFFSET + 0.040)  # not the slow 0.3 s
    assert got[3] == pytest.approx(106.0 + OFFSET + 0.012)


def test_a_new_page_load_starts_afresh_and_bad_input_falls_back_to_arrival():
    clock = BrowserClock()
    assert clock.to_server(10_000, 1.0, 20.0) == pytest.approx(20.0)
    # Another page load whose clock is 5 s behind: the old offset would put it 5 s early.
    assert clock.to_server(5_000, 2.0, 20.5) == pytest.approx(20.5)
    for value in (None, "x", {"at": "soon", "origin": 1}, {"at": float("nan"), "origin": 1}):
        assert _server_time(clock, value, 42.0) == 42.0
    assert _server_time(clock, {"at": 5_500, "origin": 2.0}, 21.5) == pytest.approx(21.0)
