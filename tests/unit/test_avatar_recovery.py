"""Avatar recovery's bookkeeping on a real timeline: the budget of replacements, the gap stamped
on the latest turn, and a replacement that fails leaving the conversation in voice."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from lib.bridge.timeline import Timeline
from lib.runtime import avatar_recovery
from lib.runtime.avatar_recovery import MAX_REPLACEMENTS, REPLACE_WINDOW_S, AvatarRecovery


def recovery(timeline: Timeline, snapshot: Any = None) -> tuple[AvatarRecovery, dict]:
    calls: dict[str, list] = {"replace": [], "voice_only": [], "note": []}
    rec = AvatarRecovery(
        timeline,
        live=lambda: True,
        closed=lambda: False,
        avatar=lambda: snapshot,
        replace=calls["replace"].append,
        voice_only=calls["voice_only"].append,
        note=lambda *a: calls["note"].append(a[0]),
    )
    return rec, calls


def test_a_drop_is_replaced_and_its_gap_is_the_latest_turns_stage():
    timeline = Timeline(None, "c")
    turn = timeline.open_turn("text", "concierge", speech_end_at=100.0)
    rec, calls = recovery(timeline)
    rec.dropped("ROOM_DELETED", 101.0)
    assert calls["replace"] == ["ROOM_DELETED"] and rec.replacing
    rec.dropped("ROOM_DELETED", 101.1)  # the same loss seen twice: one replacement
    assert len(calls["replace"]) == 1 and calls["voice_only"] == []
    gap = rec.back(103.5)
    assert gap is not None and gap.ms == pytest.approx(2500)
    assert turn.stamps["avatar_lost_at"] == 101.0 and turn.stamps["avatar_back_at"] == 103.5
    assert calls["note"] == ["avatar_lost", "avatar_replaced"] and not rec.replacing
    assert rec.back(104.0) is None  # a later first frame (a handoff) is not a gap


def test_the_budget_is_spent_within_the_window_and_refills_after_it():
    rec, calls = recovery(Timeline(None, "c"))
    t = 1000.0
    for _ in range(MAX_REPLACEMENTS):
        rec.dropped("gone", t)
        rec.back(t + 1)
        t += 10
    rec.dropped("gone again", t)
    assert calls["voice_only"] == ["gone again"] and len(calls["replace"]) == MAX_REPLACEMENTS
    rec.dropped("much later", 1000.0 + REPLACE_WINDOW_S + 5)  # the first one left the window
    assert calls["replace"][-1] == "much later"


def test_a_stalled_video_is_replaced_and_a_failed_replacement_leaves_voice(monkeypatch):
    monkeypatch.setattr(avatar_recovery, "STALL_REPLACE_S", 1.0)
    snap = SimpleNamespace(state="live", video_age_s=3.0, first_frame_at=1.0, problem=None)
    timeline = Timeline(None, "c")
    rec, calls = recovery(timeline, snap)
    closed = iter([False, False, True])
    rec._closed = lambda: next(closed)  # two checks, then the conversation ends
    snap_error = SimpleNamespace(state="error", problem=SimpleNamespace(message="no capacity"))
    seen = iter([snap, snap_error])
    rec._avatar = lambda: next(seen)
    rec.watch(period_s=0)
    assert calls["replace"] == ["no video for 3 s"]
    assert calls["voice_only"] == ["the replacement avatar failed: no capacity"]
    assert not rec.replacing


def test_a_new_session_without_its_first_frame_is_not_a_stall(monkeypatch):
    monkeypatch.setattr(avatar_recovery, "STALL_REPLACE_S", 1.0)
    snap = SimpleNamespace(state="live", video_age_s=30.0, first_frame_at=None, problem=None)
    rec, calls = recovery(Timeline(None, "c"), snap)
    closed = iter([False, True])
    rec._closed = lambda: next(closed)
    rec.watch(period_s=0)
    assert calls["replace"] == []
