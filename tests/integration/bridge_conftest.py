"""A whole conversation against both local servers: the embedded Realtime server (real `openai`
SDK) and the embedded HeyGen server (httpx + the local room), wired by the real bridge."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from lib.avatar.providers import build_provider
from lib.brain.providers import build_text_model
from lib.brain.realtime import RealtimeClient
from lib.brain.settings import TurnDetection
from lib.bridge.config import BridgeConfig
from lib.bridge.timeline import Turn
from lib.core.config import Secret
from lib.emulators.launcher import EmulatorProcess, start_emulator
from lib.runtime.avatar_runner import AvatarRunner
from lib.runtime.conversation import Conversation, ConversationConfig
from lib.store.database import Store
from tests.integration.conftest import _stop_and_check

PTT = TurnDetection(kind="push_to_talk")


@pytest.fixture(scope="module")
def paced_realtime() -> Iterator[EmulatorProcess]:
    """ttft 0 but answers streamed at 60 tokens/s: chunk strategies see real streaming."""
    emu = start_emulator("realtime", "--ttft-ms", "0", "--tokens-per-s", "60")
    yield emu
    _stop_and_check(emu)


def brain_for(emu: EmulatorProcess, store: Store | None) -> RealtimeClient:
    return RealtimeClient(
        api_key=Secret("local"),
        websocket_base_url=f"ws://127.0.0.1:{emu.port}/v1",
        provider="local",
        store=store,
    )


def runner_for(heygen_url: str, store: Store) -> AvatarRunner:
    return AvatarRunner(
        store,
        provider_factory=lambda name: build_provider(name, local_base_url=heygen_url),
        heartbeat_timeout_s=None,
    )


ConversationFactory = Callable[..., Conversation]


@pytest.fixture
def conversation(tmp_path, local_heygen, paced_realtime) -> Iterator[ConversationFactory]:
    """`conversation(bridge=BridgeConfig(...), persona=...)` → a started, live Conversation.
    Every one made is shut down afterwards."""
    made: list[Conversation] = []
    store = Store(str(tmp_path / "lab.db"))

    def make(realtime: EmulatorProcess | None = None, **config: Any) -> Conversation:
        base = ConversationConfig(avatar="local", quality="low", turn=PTT, greet=False)
        cfg = replace(base, **config)
        emu = realtime or paced_realtime
        brain = (
            build_text_model(store, provider="local", local_url=emu.base_url)
            if cfg.bridge.mode == "listen"
            else brain_for(emu, store)
        )
        # No page polls these: with the page's heartbeat limit (30 s), a test that ran longer
        # had its conversation stopped as if its tab had gone, mid-answer.
        conv = Conversation(
            store,
            cfg,
            runner=runner_for(local_heygen.base_url, store),
            brain=brain,
            heartbeat_timeout_s=None,
        )
        made.append(conv)
        conv.start()
        wait_for(lambda: conv.snapshot().state in ("live", "audio_only", "failed"), 60)
        return conv

    yield make
    for conv in made:
        conv.shutdown()


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        time.sleep(0.02)


def last_turn(conv: Conversation) -> Turn | None:
    turns = conv.bridge.snapshot().turns
    return turns[-1] if turns else None


def finished_turn(conv: Conversation, seq: int, timeout: float = 30.0) -> Turn:
    def done() -> Turn | None:
        for t in conv.bridge.snapshot().turns:
            if t.seq == seq and t.status != "open":
                return t
        return None

    turn: Turn = wait_for(done, timeout, f"turn {seq} to finish")
    return turn


__all__ = ["PTT", "BridgeConfig", "brain_for", "finished_turn", "runner_for", "wait_for"]
