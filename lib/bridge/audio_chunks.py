"""Cutting the model's audio (PCM16 mono 24 kHz) into pieces for the avatar's lip-sync: a short
first piece so the mouth starts soon, then longer ones to keep the socket quiet."""

from __future__ import annotations

BYTES_PER_MS = 24_000 * 2 // 1000  # PCM16 mono at 24 kHz


class AudioChunker:
    def __init__(self, first_ms: int = 200, next_ms: int = 1000) -> None:
        if first_ms <= 0 or next_ms <= 0:
            raise ValueError("audio chunk lengths must be positive milliseconds")
        self.first_ms, self.next_ms = first_ms, next_ms
        self._buf = bytearray()
        self._emitted = 0

    def feed(self, pcm: bytes) -> list[bytes]:
        self._buf += pcm
        out: list[bytes] = []
        while True:
            want = (self.first_ms if self._emitted == 0 else self.next_ms) * BYTES_PER_MS
            if len(self._buf) < want:
                return out
            out.append(bytes(self._buf[:want]))
            del self._buf[:want]
            self._emitted += 1

    def finish(self) -> bytes:
        rest = bytes(self._buf[: len(self._buf) - len(self._buf) % 2])
        self._buf.clear()
        if rest:
            self._emitted += 1
        return rest


def audio_ms(pcm: bytes) -> float:
    return len(pcm) / BYTES_PER_MS
