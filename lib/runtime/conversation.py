"""One conversation: the voice model, the avatar, the bridge between them, the mic, the record.

Brain and avatar start in parallel and both start times are recorded. If the avatar cannot
start (or dies), the conversation carries on audio-only with the model's own voice and says
so. Every paid session started here is stopped by `shutdown()` (page leave, tab close, exit).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Final

import numpy as np

from lib.avatar.base import (
    AvatarEvent,
    Disconnected,
    Emotion,
    FirstFrame,
    Quality,
    SessionOptions,
    UserStarted,
    UserStopped,
    UserTranscript,
    VendorVoiceModel,
)
from lib.brain.base import Brain
from lib.brain.events import AudioDelta, BrainEvent, SessionState
from lib.brain.providers import build_brain
from lib.brain.settings import RealtimeSettings, TurnDetection
from lib.brain.textmodel import DEFAULT_TEXT_MODEL
from lib.bridge.agents import Agent, agents_for
from lib.bridge.bridge import Bridge
from lib.bridge.config import BridgeConfig
from lib.bridge.ports import TaskNote
from lib.bridge.timeline import Timeline
from lib.core import config as app_config
from lib.media.mic import MicForwarder
from lib.media.tracks import AvatarMedia
from lib.runtime.avatar_outbox import Switching
from lib.runtime.avatar_recovery import AvatarRecovery
from lib.runtime.avatar_runner import AvatarRunner, Listener
from lib.runtime.conversation_snapshot import ConversationSnapshot, ConversationState
from lib.runtime.exit import StopAtExit
from lib.runtime.owner import OWNER
from lib.runtime.push_to_talk import PushToTalk
from lib.runtime.vendor_brain import VendorBrain
from lib.runtime.watchdog import HEARTBEAT_TIMEOUT_S, PageWatch, TabOpen
from lib.store.database import Store

log = logging.getLogger(__name__)

SLOW_MODEL_S: Final = 3.0
START_TIMEOUT_S: Final = 60.0  # no first delta this long after the user finished: "waiting"
# Personas whose agent speaks first (a greeting or the first interview question).
SPEAKS_FIRST: Final = frozenset({"interviewer", "greeter"})
# LiveAvatar's contexts require an opening line: the connector says it when a session starts.
OPENING_TEXT: Final = "Hello! How can I help you today?"


@dataclass(frozen=True)
class ConversationConfig:
    brain: str | None = None  # None: OpenAI with a key, else the embedded server
    avatar: str = "local"
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    persona: str = "concierge"
    agents: tuple[Agent, ...] = ()  # default: the persona's agents
    quality: Quality = "medium"
    # The avatar's voice, where its provider takes them (lib.avatar.providers.session_controls).
    emotion: Emotion | None = None
    rate: float = 1.0
    language: str = "en"
    turn: TurnDetection = field(default_factory=TurnDetection)
    transcription_model: str | None = "gpt-4o-mini-transcribe"
    model: str = "gpt-realtime"
    text_model: str = DEFAULT_TEXT_MODEL  # the avatar-listens bridge's streaming text model
    hold_mic_while_speaking: bool = False
    interview_questions: tuple[str, ...] = ()
    experiment_id: str | None = None
    greet: bool | None = None  # None: the persona decides
    created_by: str | None = None  # recorded as who made it; None: the local account

    def resolved_agents(self) -> list[Agent]:
        if self.agents:
            return list(self.agents)
        return agents_for(self.persona, interview_questions=self.interview_questions)


class Conversation:
    def __init__(
        self,
        store: Store,
        config: ConversationConfig,
        *,
        runner: AvatarRunner | None = None,
        brain: Brain | None = None,
        heartbeat_timeout_s: float | None = HEARTBEAT_TIMEOUT_S,
        tab_open: TabOpen | None = None,
    ) -> None:
        """`heartbeat_timeout_s`: with no `heartbeat()` from the page for this long, and its
        tab no longer connected (`tab_open`, when given), the tab is gone and everything is
        stopped (None: no page, e.g. the CLI)."""
        app_config.check_bridge(config.avatar, config.bridge.mode)
        self.store = store
        self.config = config
        self.agents = config.resolved_agents()
        # The avatar hears the user: its own speech recognition (listen), or the vendor's
        # voice model in its room (connector).
        self.listens = config.bridge.mode in ("listen", "connector")
        self.vendor_answers = config.bridge.mode == "connector"
        # The conversation watches the page; its runner need not watch on its own.
        # A session renewed before the provider's cap would start the vendor's model afresh
        # (a new context, no history, its opening line again): the connector keeps its one.
        self.runner = runner or AvatarRunner(
            store,
            media=AvatarMedia(),
            heartbeat_timeout_s=None,
            renew_before_cap=not self.vendor_answers,
        )
        self.brain: Brain = brain or (
            VendorBrain(self.runner)
            if self.vendor_answers
            else build_brain(
                store,
                provider=config.brain,
                listen=self.listens,
                text_model=config.text_model,
            )
        )
        self._page = PageWatch(heartbeat_timeout_s, tab_open)
        self.media = self.runner.media
        # The conversation's row and every avatar session it starts name one creator.
        self.runner.created_by = config.created_by or self.runner.created_by
        self.record_id = store.insert(
            "conversations",
            {
                "brain_provider": self.brain.provider,
                "avatar_provider": config.avatar,
                "bridge": config.bridge.mode,
                "chunking": config.bridge.label,
                "timing": "simulated" if self.brain.provider == "local" else "measured",
                "experiment_id": config.experiment_id,
                "config": json.dumps(_public_config(config), sort_keys=True),
                "requested_at": time.time(),
                "status": "starting",
                "owner": OWNER,
                "created_by": self.runner.created_by,
            },
        )
        self.runner.conversation_id = self.record_id
        self.timeline = Timeline(store, self.record_id)
        self.recovery = AvatarRecovery(
            self.timeline,
            live=lambda: self._state == "live" and not self._closed,
            closed=lambda: self._closed,
            avatar=self.runner.snapshot,
            replace=self._replace_avatar,
            voice_only=self._fall_back,
            note=lambda *args: self.bridge.note(*args),
        )
        self.bridge = Bridge(
            self.timeline,
            self.runner,
            self.brain,
            config.bridge,
            self.agents,
            on_handoff=self._handoff,
            on_speaking=self._on_speaking,
            on_thinking=lambda on: self.media.set_badge("Looking that up…" if on else None),
        )
        # Where the user's voice goes (PCM16 24 kHz): the avatar's room when it listens.
        self.mic_sink = (
            self.runner.send_user_audio_soon if self.listens else self.brain.append_audio
        )
        self.mic = MicForwarder(self.mic_sink)
        self.push_to_talk = PushToTalk(
            self.mic,
            self.brain,
            stop_answer=lambda: self.interrupt("push to talk"),
            # The avatar's ears mark its turns themselves (`_on_user_heard`).
            mark_turn=None if self.listens else self.bridge.on_brain_event,
        )
        self._lock = threading.Lock()
        self._state: ConversationState = "starting"
        self._banner: str | None = None
        self._requested = time.time()
        self._brain_ready: float | None = None
        self._avatar_ready: float | None = None
        self._switches: list[float] = []
        self._switch_from: float | None = None
        self._closed = False
        self.brain.subscribe(self._on_brain)
        self.runner.subscribe(self._on_avatar)
        _CONVERSATIONS.add(self)

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the voice model and the avatar at the same time (non-blocking)."""
        self.mic.enabled = self.config.turn.kind != "push_to_talk"
        self.brain.start(self._settings_for(self.agents[0]))
        if self.brain.record_id is not None:
            self.store.update(
                "conversations", self.record_id, {"brain_session_id": self.brain.record_id}
            )
        self.runner.start(self.config.avatar, self._options_for(self.agents[0]))
        threading.Thread(target=self._watch_start, name="conversation-start", daemon=True).start()
        if not self.vendor_answers:
            threading.Thread(
                target=self.recovery.watch, name="avatar-recovery", daemon=True
            ).start()
        if self._page.limit is not None:
            threading.Thread(target=self._watch_page, name="conversation-page", daemon=True).start()

    def _watch_page(self) -> None:
        """The tab closed (no heartbeat): stop the paid sessions."""
        limit = self._page.limit
        assert limit is not None
        while not self._closed:
            time.sleep(min(2.0, limit / 4))
            # A connected tab that is slow to poll (a long run, a starved browser) is not gone.
            if not self._closed and self._page.gone():
                log.info("no page heartbeat for %.0f s and no tab: ending the conversation", limit)
                self.shutdown("PAGE_GONE")

    def _watch_start(self) -> None:
        """Record when each side became ready; fall back to audio-only if the avatar fails;
        say so if the voice model never connects."""
        deadline = time.monotonic() + START_TIMEOUT_S
        greeted = False
        while time.monotonic() < deadline and not self._closed:
            snap = self.runner.snapshot()
            if snap.state == "error" and self._state != "audio_only":
                why = snap.problem.message if snap.problem else "the avatar could not start"
                self._fall_back(why)
            brain = self.brain.snapshot()
            if brain.state == "failed":
                self._finish("failed", brain.problem.message if brain.problem else "failed")
                return
            ready = self._brain_ready is not None and (
                self._avatar_ready is not None or self._state == "audio_only"
            )
            if ready and not greeted:
                greeted = True
                with self._lock:
                    if self._state == "starting":
                        self._state = "live"
                self.store.update("conversations", self.record_id, {"status": self._state})
                if self.listens and self._state == "live":
                    self.runner.listen_soon(True)
                if self._greets():
                    self.brain.respond()
                return
            time.sleep(0.02)
        if self._closed:
            return
        if self._brain_ready is None:
            self._finish(
                "failed",
                f"the voice model did not connect within {START_TIMEOUT_S:.0f} s",
            )
            with self._lock:
                self._banner = (
                    f"The voice model did not connect within {START_TIMEOUT_S:.0f} s — "
                    "press Stop, then Start again (the Settings page shows which model is used)."
                )
        elif self._state == "starting":  # the model is there, the avatar never came
            self._fall_back(f"the avatar did not start within {START_TIMEOUT_S:.0f} s")

    def _greets(self) -> bool:
        return (
            self.config.greet
            if self.config.greet is not None
            else (self.config.persona in SPEAKS_FIRST)
        )

    def shutdown(self, reason: str = "CONVERSATION_ENDED") -> None:
        """Stop everything this conversation started (idempotent). `reason` is stored as the
        avatar session's stop reason (USER_STOPPED, PAGE_LEFT, PAGE_GONE, APP_EXIT, ...)."""
        if self._closed:
            return
        log.info("conversation %s ends: %s", self.record_id, reason)
        self._closed = True
        self.push_to_talk.close()
        self.mic.enabled = False
        self.bridge.end("the conversation was stopped")
        try:
            self.brain.shutdown()
        finally:
            self.runner.shutdown(reason)
            self._finish("stopped")
            _CONVERSATIONS.discard(self)

    def _finish(self, status: str, error: str | None = None) -> None:
        with self._lock:
            self._state = "failed" if status == "failed" else "ended"
        fields: dict[str, object] = {"status": status, "stopped_at": time.time()}
        if error:
            fields["error"] = error
        self.store.update("conversations", self.record_id, fields)

    # ---- user actions (script thread) -----------------------------------------------------
    def send_text(self, text: str) -> None:
        self.bridge.user_text(text)
        self.brain.send_text(text)

    def interrupt(self, why: str = "interrupt button") -> None:
        self.bridge.interrupt(why)
        self.media.voice.clear()

    def heartbeat(self) -> None:
        self._page.beat()

    def snapshot(self) -> ConversationSnapshot:
        brain = self.brain.snapshot()
        bridge = self.bridge.snapshot()
        waiting = False
        if bridge.turns:
            last = bridge.turns[-1]
            heard = last.stage("transcript_at") or last.stage("speech_end_at")
            waiting = (
                last.status == "open"
                and heard is not None
                and last.stage("first_delta_at") is None
                and time.time() - heard > SLOW_MODEL_S
            )
        replacing_why, gaps_ms = self.recovery.view()
        with self._lock:
            banner = self._banner
            if replacing_why is not None:
                banner = f"The avatar dropped ({replacing_why}) — starting a new one…"
            return ConversationSnapshot(
                state=self._state,
                record_id=self.record_id,
                brain=brain,
                avatar=self.runner.snapshot(),
                bridge=bridge,
                waiting_for_model=waiting,
                banner=banner,
                brain_ready_s=(self._brain_ready - self._requested) if self._brain_ready else None,
                avatar_ready_s=(
                    (self._avatar_ready - self._requested) if self._avatar_ready else None
                ),
                gaps_ms=gaps_ms,
                replacing=replacing_why is not None,
                switch_ms=tuple(self._switches),
            )

    # ---- wiring ---------------------------------------------------------------------------
    def _settings_for(self, agent: Agent, *, audio: bool | None = None) -> RealtimeSettings:
        audio_out = (self.config.bridge.mode == "audio") if audio is None else audio
        return RealtimeSettings(
            model=self.config.model,
            output="audio" if audio_out else "text",
            voice=agent.model_voice,
            instructions=agent.instructions,
            turn=self.config.turn,
            transcription_model=self.config.transcription_model,
            tools=agent.tools,
        )

    def _options_for(self, agent: Agent) -> SessionOptions:
        voice_model = None
        if self.vendor_answers:
            settings = self._settings_for(agent)
            voice_model = VendorVoiceModel(
                instructions=settings.instructions,
                opening_text=OPENING_TEXT,
                voice=settings.voice,
                model=self.config.model,
            )
        return SessionOptions(
            avatar_id=agent.avatar_id,
            voice_id=agent.avatar_voice,
            quality=self.config.quality,
            emotion=self.config.emotion,
            rate=self.config.rate,
            language=self.config.language,
            voice_model=voice_model,
        )

    def _on_brain(self, ev: BrainEvent) -> None:
        if isinstance(ev, SessionState) and self._brain_ready is None:
            self._brain_ready = ev.at
            self.store.update("conversations", self.record_id, {"brain_ready_at": ev.at})
        self.bridge.on_brain_event(ev)
        if isinstance(ev, AudioDelta) and ev.pcm and self.bridge.audio_only:
            self.media.play_voice(np.frombuffer(ev.pcm, dtype=np.int16), 24000)

    def _on_avatar(self, note: TaskNote | AvatarEvent) -> None:
        if isinstance(note, UserStarted | UserStopped | UserTranscript):
            self._on_user_heard(note)
            return
        if isinstance(note, Switching):
            self._switch_from = note.at
        elif isinstance(note, FirstFrame):
            if self._avatar_ready is None:
                self._avatar_ready = note.at
                self.store.update("conversations", self.record_id, {"avatar_ready_at": note.at})
            if self._switch_from is not None:
                self._switches.append((note.at - self._switch_from) * 1000)
                self.bridge.note(
                    "avatar_switched",
                    f"avatar switched in {self._switches[-1]:.0f} ms",
                    note.at,
                    {"ms": self._switches[-1]},
                )
                self._switch_from = None
            self.recovery.back(note.at)
        elif isinstance(note, Disconnected) and self.recovery.replacing:
            return  # the dropped session, closed for its replacement
        elif (
            isinstance(note, Disconnected)
            and self._switch_from is None
            and not self._closed
            and self._state in ("starting", "live")
        ):
            why = f"the avatar session ended: {note.reason}"
            if self._state == "live" and not self.vendor_answers:
                self.recovery.dropped(why, note.at)
            else:
                self._fall_back(why)
        if isinstance(note, Disconnected) and self._switch_from is not None:
            return  # the last agent's avatar, stopped for the switch
        self.bridge.on_avatar(note)

    def _replace_avatar(self, why: str) -> None:
        """Recovery: a new session for the current agent in place of the one that dropped (the
        snapshot's banner says so while `recovery` is replacing)."""
        options = self._options_for(self.bridge.agent)
        self.runner.replace_now(self.config.avatar, options, "REPLACED")

    def _on_user_heard(self, ev: UserStarted | UserStopped | UserTranscript) -> None:
        """The avatar's ears (avatar-listens): its user events are this turn's stages."""
        if not self.listens:
            return
        text = self.bridge.user_heard(ev)
        if text is None or self.vendor_answers:
            return  # mid-turn; or the vendor's model heard it too, and answers by itself
        if text:
            self.brain.send_text(text)
        else:
            self.bridge.abandon("the avatar heard nothing it could transcribe")

    def _on_speaking(self, speaking: bool) -> None:
        if self.config.hold_mic_while_speaking and self.config.turn.kind != "push_to_talk":
            self.mic.enabled = not speaking  # half duplex: the avatar is not interrupted

    def _handoff(self, previous: Agent, target: Agent) -> None:
        """A new agent answers: its instructions, tools and voice, and its avatar."""
        self.brain.update(self._settings_for(target, audio=self._audio_out()))
        if previous.avatar_id != target.avatar_id and self._state != "audio_only":
            self.runner.restart_soon(self.config.avatar, self._options_for(target))

    def _audio_out(self) -> bool:
        if self.listens:
            return False
        return self.config.bridge.mode == "audio" or self._state == "audio_only"

    def _fall_back(self, why: str) -> None:
        """The avatar failed: the model speaks with its own voice; the page says so."""
        if self.vendor_answers:  # the avatar session was the voice model too: nothing is left
            self._finish("failed", why)
            with self._lock:
                self._banner = f"LiveAvatar's connector ended ({why}) — press Stop, then Start."
            self.bridge.note("fallback", self._banner, time.time())
            return
        with self._lock:
            self._state = "audio_only"
            self._banner = f"Avatar unavailable ({why}) — continuing with voice only."
        self.bridge.set_audio_only(True)
        if self.listens:  # the avatar was the ears and the voice: only typing is left
            with self._lock:
                self._banner = f"Avatar unavailable ({why}) — type messages; answers show as text."
        else:
            self.brain.update(self._settings_for(self.bridge.agent, audio=True))
        self.bridge.note("fallback", self._banner, time.time())
        self.store.update("conversations", self.record_id, {"error": why})


def _public_config(config: ConversationConfig) -> dict[str, object]:
    data = asdict(replace(config, agents=()))
    del data["created_by"]  # who, not how: a column of its own
    data["agents"] = [
        {"name": a.name, "avatar_id": a.avatar_id, "avatar_voice": a.avatar_voice}
        for a in config.resolved_agents()
    ]
    return data


_CONVERSATIONS: StopAtExit[Conversation] = StopAtExit()


__all__ = ["Conversation", "ConversationConfig", "ConversationSnapshot", "Listener"]
