"""The avatar's ears take a room's microphone audio no faster than it plays: a client that
floods the room cannot make them buffer or transcribe faster than anyone speaks."""

from __future__ import annotations

from lib.emulators.rooms.ears import MAX_AHEAD_S, RealTimeGate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_audio_faster_than_real_time_is_dropped_and_real_time_audio_passes() -> None:
    clock = Clock()
    gate = RealTimeGate(clock=clock)
    # A burst: only MAX_AHEAD_S of it passes.
    passed = sum(gate.take(0.25) for _ in range(100))
    assert passed == MAX_AHEAD_S / 0.25
    assert not gate.take(0.25)
    # Then 20 ms packets every 20 ms, for a minute: every one passes.
    clock.now += MAX_AHEAD_S
    for _ in range(3000):
        clock.now += 0.02
        assert gate.take(0.02)
    # Silence does not bank more than MAX_AHEAD_S.
    clock.now += 600
    assert not gate.take(MAX_AHEAD_S + 0.1)
    assert gate.take(MAX_AHEAD_S)
