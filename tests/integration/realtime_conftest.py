"""Fixtures and helpers for the local Realtime server tests: the server started as a user
would (`python -m lib emulator realtime --port 0 …`), the real `openai` SDK pointed at it, and
a spoken question made with the project's own TTS."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI

from lib.emulators.engines.audio import resample
from lib.emulators.engines.tts import VOICES, Synthesizer
from lib.emulators.launcher import EmulatorProcess, start_emulator
from tests.integration.conftest import _stop_and_check

REALTIME_KEY = "sk-test-realtime"
MODEL = "gpt-realtime"
RATE = 24_000
QUESTION = "What are your opening hours?"


@pytest.fixture(scope="module")
def realtime_server() -> Iterator[EmulatorProcess]:
    """Keyed; default-ish model timing (ttft 150 ms, 40 tokens/s) so responses stay active
    long enough to collide with, cancel and interrupt."""
    emu = start_emulator(
        "realtime", "--api-key", REALTIME_KEY, "--ttft-ms", "150", "--tokens-per-s", "40"
    )
    yield emu
    _stop_and_check(emu)


@pytest.fixture(scope="module")
def instant_server() -> Iterator[EmulatorProcess]:
    """ttft 0 and no pacing: measures what the engines themselves cost."""
    emu = start_emulator("realtime", "--ttft-ms", "0", "--tokens-per-s", "0")
    yield emu
    _stop_and_check(emu)


@pytest.fixture(scope="module")
def spoken_question() -> bytes:
    """QUESTION spoken by eSpeak, 24 kHz PCM16, with 0.4 s of silence before and 1.2 s after
    (enough for server VAD's 500 ms silence to end the turn)."""
    utt = Synthesizer().synthesize(QUESTION, VOICES[0])
    pcm = resample(utt.pcm, utt.sample_rate, RATE)
    silence = np.zeros(int(RATE * 0.4), np.int16)
    tail = np.zeros(int(RATE * 1.2), np.int16)
    return np.concatenate([silence, pcm, tail]).astype("<i2").tobytes()


def client(port: int, key: str = REALTIME_KEY) -> AsyncOpenAI:
    return AsyncOpenAI(api_key=key, websocket_base_url=f"ws://127.0.0.1:{port}/v1")


def connect(port: int, key: str = REALTIME_KEY, **options: Any) -> Any:
    """`client.realtime.connect(model=…)` of the real SDK (typed Any: tests poke at raw shapes)."""
    return client(port, key).realtime.connect(model=MODEL, **options)


class Recorder:
    """Reads events off a connection, keeping every one with its arrival time."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.events: list[Any] = []
        self.times: list[float] = []

    async def until(self, kind: str, timeout: float = 20.0, **match: Any) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [e.type for e in self.events[-30:]]
                raise AssertionError(f"no {kind} {match or ''} within {timeout} s; saw {seen}")
            event = await asyncio.wait_for(self.conn.recv(), remaining)
            self.events.append(event)
            self.times.append(time.perf_counter())
            if event.type == kind and all(getattr(event, k, None) == v for k, v in match.items()):
                return event

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]

    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def time_of(self, kind: str) -> float:
        return next(t for e, t in zip(self.events, self.times, strict=True) if e.type == kind)


async def send_audio(conn: Any, pcm: bytes, chunk_ms: int = 100) -> None:
    step = RATE * 2 * chunk_ms // 1000
    for i in range(0, len(pcm), step):
        await conn.input_audio_buffer.append(audio=base64.b64encode(pcm[i : i + step]).decode())


TEXT_SESSION: dict[str, Any] = {
    "type": "realtime",
    "output_modalities": ["text"],
    "audio": {"input": {"turn_detection": None}},
}


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
