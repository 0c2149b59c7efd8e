"""The one avatar interface every provider implements (HeyGen v1, LiveAvatar, local).

Providers are small peers: they translate between this interface and their wire protocol.
Timestamps are taken once, where an event is observed (`time.time()`); durations are derived.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from lib.wire.picture import Picture

Quality = Literal["low", "medium", "high"]
TaskMode = Literal["sync", "async"]
Emotion = Literal["excited", "serious", "friendly", "soothing", "broadcaster"]

QUALITIES: tuple[Quality, ...] = ("low", "medium", "high")
EMOTIONS: tuple[Emotion, ...] = ("excited", "serious", "friendly", "soothing", "broadcaster")
# HeyGen's quality → output resolution (docs: low 360p/500 kbps, medium 480p, high 720p).
RESOLUTIONS: dict[Quality, tuple[int, int]] = {
    "low": (640, 360),
    "medium": (854, 480),
    "high": (1280, 720),
}


class AvatarError(Exception):
    """A provider refused or failed a call. `message` is the provider's own text; `hint` says
    what the user can do about it. Never carries a key."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        code: int | str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.code = code
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.provider}" + (f" HTTP {self.status}" if self.status else "")
        return f"{where}: {self.message}" + (f" — {self.hint}" if self.hint else "")


@dataclass(frozen=True)
class AvatarInfo:
    avatar_id: str
    name: str
    default_voice: str | None = None
    preview_url: str | None = None
    status: str = "ACTIVE"


@dataclass(frozen=True)
class VoiceInfo:
    voice_id: str
    name: str
    language: str = "en"
    gender: str = ""
    support_realtime: bool = True


@dataclass(frozen=True)
class RemoteSession:
    """A session as the provider lists it (used by the reaper and the tests)."""

    session_id: str
    status: str
    created_at: float


@dataclass(frozen=True)
class VendorVoiceModel:
    """The vendor runs the voice model itself (LiveAvatar's OpenAI Realtime connector): it
    hears the user in the room, answers and lip-syncs. The provider supplies the model's key
    (stored with the vendor as a secret)."""

    instructions: str
    opening_text: str
    voice: str = "marin"
    model: str = "gpt-realtime"
    temperature: float = 0.8


# The speech languages HeyGen's streaming sessions take (its demo's list; LiveAvatar's too).
LANGUAGES: tuple[str, ...] = (
    "en", "de", "es", "fr", "it", "pt", "nl", "pl", "sv", "da", "fi", "no", "cs", "ro",
    "hu", "tr", "el", "ru", "uk", "bg", "sk", "hi", "id", "ms", "vi", "ja", "ko", "zh",
)  # fmt: skip


@dataclass(frozen=True)
class SessionControls:
    """What a provider's session takes beyond the avatar and the quality: each provider module
    says its own (the pages offer only these)."""

    voice: bool = False
    emotion: bool = False
    emotion_per_piece: bool = False  # an emotion per spoken piece too (the embedded server)
    rate: tuple[float, float] | None = None  # the speaking-rate range it accepts
    language: bool = False


@dataclass(frozen=True)
class SessionOptions:
    avatar_id: str
    voice_id: str | None = None
    quality: Quality = "medium"
    emotion: Emotion | None = None
    rate: float = 1.0
    language: str = "en"
    idle_timeout_s: int = 120
    voice_model: VendorVoiceModel | None = None  # None: we bring the words or the audio


@dataclass(frozen=True)
class SpeakResult:
    task_id: str
    duration_ms: float | None
    requested_at: float
    answered_at: float


# ---- typed events (the data-channel events, normalised across providers) -------------------


@dataclass(frozen=True)
class AvatarEvent:
    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class TaskEvent(AvatarEvent):
    """About one piece the avatar was asked to say (the provider's task id for it)."""

    task_id: str


@dataclass(frozen=True)
class StartTalking(TaskEvent):
    pass


@dataclass(frozen=True)
class StopTalking(TaskEvent):
    duration_ms: float | None = None


@dataclass(frozen=True)
class TalkingMessage(TaskEvent):
    text: str


@dataclass(frozen=True)
class EndMessage(TaskEvent):
    pass


@dataclass(frozen=True)
class UserStarted(AvatarEvent):
    """The avatar heard the user start speaking (its own speech recognition)."""


@dataclass(frozen=True)
class UserStopped(AvatarEvent):
    """The avatar decided the user's turn ended."""


@dataclass(frozen=True)
class UserTranscript(AvatarEvent):
    """What the avatar's speech recognition heard, once the turn ended."""

    text: str
    turn_id: str = ""


@dataclass(frozen=True)
class Disconnected(AvatarEvent):
    reason: str


@dataclass(frozen=True)
class ProviderEvent(AvatarEvent):
    """Any provider event we don't model; kept, not dropped."""

    kind: str
    payload: dict[str, object]


@dataclass(frozen=True)
class FirstFrame(AvatarEvent):
    """First video frame received from the provider's media transport."""


EventCallback = Callable[[AvatarEvent], None]


# ---- media handed to the page (streamlit-webrtc tracks read from here) ---------------------


@dataclass
class VideoFrame:
    rgb: npt.NDArray[np.uint8]  # H x W x 3
    at: float  # when received


class AvatarSession(abc.ABC):
    """A live avatar session. All methods are coroutines run on the owner's event loop."""

    provider: str
    session_id: str
    options: SessionOptions
    started_at: float
    # The provider ends the session this long after it started (HeyGen's
    # session_duration_limit, LiveAvatar's max_session_duration); None: not said.
    duration_limit_s: float | None = None

    @abc.abstractmethod
    async def speak(
        self, text: str, mode: TaskMode = "async", emotion: Emotion | None = None
    ) -> SpeakResult:
        """`emotion`: for this piece, where the provider takes one per task (else ignored)."""

    @abc.abstractmethod
    async def interrupt(self) -> None: ...

    @abc.abstractmethod
    async def keep_alive(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop the paid session. Idempotent; never raises for an already-closed session."""

    async def speak_audio(self, pcm24k: bytes, *, event_id: str, end: bool = False) -> None:
        """Lip-sync audio we supply (PCM16 mono 24 kHz), e.g. the voice model's own voice."""
        raise AvatarError(
            "this session speaks text only",
            provider=self.provider,
            hint="use LiveAvatar LITE or the local provider for audio",
        )

    async def ask(self, text: str) -> None:
        """Typed text for the vendor's voice model to answer (SessionOptions.voice_model)."""
        raise AvatarError(
            "this session has no voice model of its own",
            provider=self.provider,
            hint="the LiveAvatar connector bridge mode runs one",
        )

    async def listen(self, on: bool) -> None:
        """Have the avatar's own speech recognition listen to the user (or stop)."""
        raise AvatarError(
            "this session does not listen to the user",
            provider=self.provider,
            hint="use HeyGen, LiveAvatar FULL or the local provider for the avatar-listens bridge",
        )

    async def send_user_audio(self, pcm24k: bytes) -> None:
        """The user's microphone (PCM16 mono 24 kHz), published into the avatar's room."""
        raise AvatarError("this session does not take the user's audio", provider=self.provider)

    @property
    @abc.abstractmethod
    def closed(self) -> bool: ...


class AvatarProvider(abc.ABC):
    name: str

    @abc.abstractmethod
    async def list_avatars(self) -> list[AvatarInfo]: ...

    @abc.abstractmethod
    async def list_voices(self) -> list[VoiceInfo]:
        """Only voices usable for streaming (realtime-capable)."""

    @abc.abstractmethod
    async def start(self, options: SessionOptions, sink: MediaSink) -> AvatarSession:
        """Create and start a session; media and events go to `sink`."""

    @abc.abstractmethod
    async def list_sessions(self) -> list[RemoteSession]: ...

    @abc.abstractmethod
    async def stop_session(self, session_id: str) -> None:
        """Stop a session by id (the reaper's path; no live object needed)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release HTTP clients."""


class MediaSink(abc.ABC):
    """Where a session's transport delivers media and events (thread-safe)."""

    @abc.abstractmethod
    def on_video(self, picture: Picture) -> None: ...

    @abc.abstractmethod
    def on_audio(self, pcm: npt.NDArray[np.int16], sample_rate: int) -> None: ...

    @abc.abstractmethod
    def on_event(self, event: AvatarEvent) -> None: ...
