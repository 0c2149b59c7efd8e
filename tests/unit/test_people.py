"""Who made what, on both backends: the People filter's choices and the queries it narrows
(the Sessions page's lists, the Latency and Costs pages' conversations and turns)."""

from __future__ import annotations

import time

import pytest

from lib.metrics.analytics import turns_frame
from lib.store import queries
from lib.store.database import Store


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


def _conversation(store: Store, who: str | None, bridge: str = "text") -> str:
    t0 = time.time()
    conv = store.insert(
        "conversations",
        {
            "brain_provider": "local",
            "avatar_provider": "local",
            "bridge": bridge,
            "chunking": "whole",
            "timing": "measured",
            "requested_at": t0,
            "stopped_at": t0 + 60,
            "status": "stopped",
            "created_by": who,
        },
    )
    store.insert(
        "turns",
        {"conversation_id": conv, "seq": 1, "source": "text", "user_text": "hi", "status": "done"},
    )
    # Its avatar session names the same person; a Studio list never shows it.
    store.insert(
        "avatar_sessions",
        {
            "provider": "local",
            "requested_at": t0,
            "status": "stopped",
            "conversation_id": conv,
            "created_by": who,
        },
    )
    return conv


def _studio(store: Store, who: str | None) -> str:
    return store.insert(
        "avatar_sessions",
        {"provider": "local", "requested_at": time.time(), "status": "stopped", "created_by": who},
    )


def test_the_people_filter_keeps_only_the_chosen_peoples_rows(store):
    alice = {_conversation(store, "alice@example.com"), _conversation(store, "alice@example.com")}
    bob = _conversation(store, "bob@example.com", bridge="audio")
    older = {_conversation(store, None), _conversation(store, "")}  # before creators were kept
    studio_carol, studio_older = _studio(store, "carol"), _studio(store, None)

    # Choices: everyone who made something, sorted, "" (no creator recorded) last.
    assert queries.recorded_people(store) == ["alice@example.com", "bob@example.com", "carol", ""]
    assert queries.recorded_people(store, studio=False) == [
        "alice@example.com",
        "bob@example.com",
        "",
    ]

    def summaries(*people: str) -> set[str]:
        frame = queries.conversation_summaries(store, queries.Filters(people=people))
        return set(frame["id"])

    assert summaries("alice@example.com") == alice
    assert summaries("") == older
    assert summaries("bob@example.com", "") == {bob, *older}
    assert summaries() == {*alice, bob, *older}  # none chosen: everyone
    assert summaries("nobody") == set()
    shown = queries.conversation_summaries(store, queries.Filters(people=("bob@example.com",)))
    assert shown["created_by"].tolist() == ["bob@example.com"] and shown["turns"].tolist() == [1]

    # With the other filters, all must hold.
    both = queries.Filters(people=("alice@example.com", "bob@example.com"), bridges=("audio",))
    assert set(queries.conversations(store, both)["id"]) == {bob}

    # The Latency and Costs pages' frames.
    only_alice = queries.Filters(people=("alice@example.com",))
    assert set(turns_frame(store, only_alice)["conversation_id"]) == alice
    unknown = queries.turns_with_config(store, queries.Filters(people=("",)))
    assert set(unknown["conversation_id"]) == older

    # The Studio list: sessions with no conversation only, by the chosen people.
    assert set(queries.studio_sessions(store)["id"]) == {studio_carol, studio_older}
    assert queries.studio_sessions(store, ["carol"])["id"].tolist() == [studio_carol]
    assert queries.studio_sessions(store, [""])["id"].tolist() == [studio_older]
    assert queries.studio_sessions(store, ["alice@example.com"]).empty
