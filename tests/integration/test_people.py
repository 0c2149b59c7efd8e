"""Who made it is recorded when the row is inserted, on both backends: a Studio session (the
runner's `created_by`), a conversation and the avatar sessions it starts
(`ConversationConfig.created_by`), and the local account when no one is named."""

from __future__ import annotations

import pytest

from lib.avatar.providers import build_provider
from lib.emulators.launcher import EmulatorProcess
from lib.runtime.avatar_runner import AvatarRunner
from lib.runtime.conversation import Conversation, ConversationConfig
from lib.store.database import Store
from tests.integration.bridge_conftest import PTT, brain_for, runner_for, wait_for
from tests.integration.test_runner import OPTIONS

pytestmark = pytest.mark.integration


def _studio_session(runner: AvatarRunner) -> dict:
    try:
        runner.start("local", OPTIONS)
        snap = runner.wait_started()
        assert snap.state == "live", snap.problem
        row = runner.store.get("avatar_sessions", snap.record_id)
        assert row is not None
        return row
    finally:
        runner.shutdown()


def test_a_studio_session_records_who_started_it(db_url, local_heygen, monkeypatch):
    store = Store(db_url)
    named = AvatarRunner(
        store,
        provider_factory=lambda name: build_provider(name, local_base_url=local_heygen.base_url),
        created_by="ana@example.com",
    )
    row = _studio_session(named)
    assert row["created_by"] == "ana@example.com" and row["conversation_id"] is None

    # No one named (the CLI, a benchmark): the local account.
    monkeypatch.setenv("AVATARLAB_USER", "lab-operator")
    unnamed = AvatarRunner(
        store,
        provider_factory=lambda name: build_provider(name, local_base_url=local_heygen.base_url),
    )
    assert _studio_session(unnamed)["created_by"] == "lab-operator"
    store.close()


def test_a_conversation_and_its_avatar_sessions_record_who_made_it(
    db_url, local_heygen, local_realtime: EmulatorProcess
):
    store = Store(db_url)
    conv = Conversation(
        store,
        ConversationConfig(
            avatar="local", quality="low", turn=PTT, greet=False, created_by="ben@example.com"
        ),
        runner=runner_for(local_heygen.base_url, store),  # a runner of its own names no one
        brain=brain_for(local_realtime, store),
        heartbeat_timeout_s=None,
    )
    try:
        row = store.get("conversations", conv.record_id)
        assert row is not None and row["created_by"] == "ben@example.com"
        assert "ben@example.com" not in str(row["config"])  # who, not how it was configured
        conv.start()
        wait_for(lambda: conv.snapshot().state in ("live", "audio_only", "failed"), 60)
        assert conv.snapshot().state == "live"
        sessions = store.frame(
            "SELECT created_by FROM avatar_sessions WHERE conversation_id = ?", (conv.record_id,)
        )
        assert sessions["created_by"].tolist() == ["ben@example.com"]
    finally:
        conv.shutdown()
        store.close()
