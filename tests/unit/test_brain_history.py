"""What a reconnected Realtime session is given of the conversation so far: finished lines, in
order, the newest that fit the character budget, without the lines still to be sent."""

from __future__ import annotations

from typing import Any

from lib.brain.base import Line
from lib.brain.history import history_items


def texts(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    out = []
    for ev in events:
        assert ev["type"] == "conversation.item.create"
        item = ev["item"]
        (part,) = item["content"]
        out.append((item["role"], part["type"], part["text"]))
    return out


def test_finished_lines_in_order_as_user_and_assistant_messages():
    lines = [
        Line("user", "u1", "Hello ", 1.0, True),
        Line("assistant", "r1", "Hi, how can I help?", 2.0, True, "completed"),
        Line("user", "u2", "", 3.0, True),  # nothing said
        Line("user", "u3", "Where do I park?", 4.0, True),
        Line("assistant", "r2", "Behind the", 5.0),  # cut off with the socket
    ]
    assert texts(history_items(lines)) == [
        ("user", "input_text", "Hello"),
        ("assistant", "output_text", "Hi, how can I help?"),
        ("user", "input_text", "Where do I park?"),
    ]


def test_only_the_newest_lines_that_fit_the_budget_are_given():
    lines = [Line("user", f"u{i}", f"line {i:02d}", float(i), True) for i in range(10)]
    kept = texts(history_items(lines, budget=3 * len("line 00")))
    assert [t for _, _, t in kept] == ["line 07", "line 08", "line 09"]
    assert history_items(lines, budget=3) == []  # even the newest does not fit


def test_lines_whose_item_is_still_to_be_sent_are_left_out():
    lines = [
        Line("user", "u1", "Hello", 1.0, True),
        Line("user", "text-queued", "Are you there?", 2.0, True),
    ]
    assert texts(history_items(lines, skip={"text-queued"})) == [("user", "input_text", "Hello")]
