"""The Realtime client recovering from dropped sockets against the embedded server: the new
session is given the conversation so far, and the retry budget refills after healthy stretches
but not for a connection that keeps dropping. Drops are injected through the server's control
endpoint (`ws_close:N`: the socket closes after N deltas of an answer)."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lib.brain import realtime
from lib.brain.events import BrainEvent, ConnectionLost, Other, ResponseCreated
from lib.brain.realtime import RealtimeClient
from lib.brain.settings import RealtimeSettings, TurnDetection
from lib.core.config import Secret
from lib.emulators.launcher import EmulatorProcess, start_emulator
from lib.store.database import Store
from tests.integration import bridge_conftest
from tests.integration.conftest import _stop_and_check, clear_faults, fault

pytestmark = pytest.mark.integration
wait_for = functools.partial(bridge_conftest.wait_for, timeout=15.0)
HOURS, PARKING, PRICES = (
    "What are your opening hours?",
    "Where can I park my car?",
    "How much does it cost?",
)
TEXT_PTT = RealtimeSettings(output="text", turn=TurnDetection(kind="push_to_talk"))


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorProcess]:
    emu = start_emulator("realtime", "--ttft-ms", "0", "--tokens-per-s", "0")
    yield emu
    _stop_and_check(emu)


@pytest.fixture
def client(server, tmp_path, monkeypatch) -> Iterator[tuple[RealtimeClient, list[BrainEvent]]]:
    """A client on the server (reconnecting after 50 ms, two tries) and every event it got."""
    monkeypatch.setattr(realtime, "RECONNECT_DELAYS_S", (0.05, 0.05))
    s = RealtimeClient(
        api_key=Secret("k"),
        websocket_base_url=server.base_url.replace("http://", "ws://") + "/v1",
        provider="local",
        store=Store(str(tmp_path / "lab.db")),
    )
    seen: list[BrainEvent] = []
    s.subscribe(seen.append)
    try:
        yield s, seen
    finally:
        s.shutdown()
        clear_faults(server)


def answers(s: RealtimeClient) -> list[str]:
    return [ln.text for ln in s.snapshot().lines if ln.role == "assistant" and ln.final]


def since_last_drop(seen: list[BrainEvent]) -> list[BrainEvent]:
    lost = [i for i, ev in enumerate(seen) if isinstance(ev, ConnectionLost)]
    return seen[lost[-1] + 1 :] if lost else []


def items_done(events: list[BrainEvent]) -> list[dict[str, Any]]:
    """The conversation.item.done events the server sent (each item as it holds it), raw."""
    return [
        ev.raw for ev in events if isinstance(ev, Other) and ev.type == "conversation.item.done"
    ]


def said(item: dict[str, Any]) -> tuple[str, str, str]:
    part = item["content"][0]
    return item["role"], part["type"], part.get("text") or part.get("transcript") or ""


def test_a_reconnected_session_holds_the_earlier_turns_and_answers_the_next(server, client):
    s, seen = client
    s.start(TEXT_PTT)
    assert s.wait_connected().connected
    s.send_text(HOURS)
    wait_for(lambda: len(answers(s)) == 1)
    first_answer = answers(s)[0].strip()
    fault(server, "ws_close", value=2, times=1)
    s.send_text(PARKING)  # its answer is cut after two deltas: lost with the socket
    wait_for(lambda: s.snapshot().reconnects == 1 and s.snapshot().connected)
    # The new session is given the conversation so far, in order, each after the one before;
    # the cut answer is not (only finished lines are), and no answer is asked for.
    wait_for(lambda: len(items_done(since_last_drop(seen))) == 3)
    replayed = items_done(since_last_drop(seen))
    assert [said(e["item"]) for e in replayed] == [
        ("user", "input_text", HOURS),
        ("assistant", "output_text", first_answer),
        ("user", "input_text", PARKING),
    ]
    ids = [e["item"]["id"] for e in replayed]
    assert [e["previous_item_id"] for e in replayed] == [None, *ids[:-1]]
    cut = [ln for ln in s.snapshot().lines if ln.role == "assistant" and not ln.final]
    assert len(cut) == 1 and cut[0].text  # shown as far as it came, and not replayed

    s.send_text(PRICES)
    wait_for(lambda: len(answers(s)) == 2)
    after = since_last_drop(seen)
    assert sum(isinstance(ev, ResponseCreated) for ev in after) == 1  # only the one asked for
    # The question went in after the replayed turns, and its answer after it.
    done = items_done(after)
    assert [said(e["item"])[:2] for e in done[3:]] == [
        ("user", "input_text"),
        ("assistant", "output_text"),
    ]
    assert said(done[3]["item"])[2] == PRICES and done[3]["previous_item_id"] == ids[-1]
    assert "free" in answers(s)[1].lower() and s.snapshot().problem is None


def drop_once(s: RealtimeClient, question: str, drops: int) -> None:
    """Ask, and wait until the answer's socket drop has been counted."""
    s.send_text(question)
    wait_for(lambda: s.snapshot().reconnects == drops or s.snapshot().state == "failed")


def test_drops_spaced_beyond_a_healthy_stretch_never_use_up_the_budget(server, client, monkeypatch):
    monkeypatch.setattr(realtime, "HEALTHY_S", 0.3)
    s, _ = client
    fault(server, "ws_close", value=1)  # every answer drops the socket
    s.start(TEXT_PTT)
    for drop in range(1, 5):  # twice the two tries the budget holds
        wait_for(lambda: s.snapshot().connected)
        time.sleep(0.4)  # up longer than HEALTHY_S
        drop_once(s, PARKING, drop)
    wait_for(lambda: s.snapshot().connected)
    snap = s.snapshot()
    assert snap.state != "failed" and snap.reconnects == 4 and snap.problem is None


def test_drops_in_quick_succession_use_up_the_budget_and_say_so(server, client):
    s, _ = client
    fault(server, "ws_close", value=1)
    s.start(TEXT_PTT)
    for drop in range(1, 4):  # each within HEALTHY_S (30 s) of connecting
        wait_for(lambda: s.snapshot().connected or s.snapshot().state == "failed")
        drop_once(s, PARKING, drop)
    wait_for(lambda: s.snapshot().state == "failed")
    snap = s.snapshot()
    assert snap.reconnects == 2 and not snap.connected  # the two tries, then no third
    assert snap.problem is not None and "keeps failing" in snap.problem.message
    assert "start again" in snap.problem.hint
