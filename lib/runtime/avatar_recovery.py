"""A conversation's avatar that drops is replaced by a new session inside the same conversation.

Dropped means: the provider ended the session (room closed, idle expiry, a provider error) or
its video stalled for STALL_REPLACE_S. The gap, from the loss to the new session's first frame,
is stamped on the latest turn (`avatar_lost_at` → `avatar_back_at`, the waterfall's "avatar
replaced" lane) and noted as a conversation event. A budget keeps a provider that keeps failing
from being restarted forever: beyond it the conversation goes on in the model's own voice.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from lib.bridge.timeline import Timeline
from lib.runtime.avatar_state import AvatarSnapshot

# Longer than a stream's transient hiccups (the runner flags a stall after 1.5 s), short enough
# that a frozen avatar is not left in front of the user.
STALL_REPLACE_S: Final = 8.0
MAX_REPLACEMENTS: Final = 3  # within REPLACE_WINDOW_S; then voice only
REPLACE_WINDOW_S: Final = 600.0


@dataclass(frozen=True)
class Gap:
    reason: str
    lost_at: float
    back_at: float

    @property
    def ms(self) -> float:
        return (self.back_at - self.lost_at) * 1000


Note = Callable[[str, str, float, dict[str, object]], None]  # kind, text, at, payload


class AvatarRecovery:
    """What the conversation knows of its avatar's replacements (thread-safe)."""

    def __init__(
        self,
        timeline: Timeline,
        *,
        live: Callable[[], bool],
        closed: Callable[[], bool],
        avatar: Callable[[], AvatarSnapshot],
        replace: Callable[[str], None],
        voice_only: Callable[[str], None],
        note: Note,
    ) -> None:
        """`replace(why)` starts a new avatar session; `voice_only(why)` gives up on the avatar;
        `note` records a conversation event."""
        self._timeline = timeline
        self._live, self._closed, self._avatar = live, closed, avatar
        self._replace, self._voice_only, self._note = replace, voice_only, note
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._lost: tuple[str, float] | None = None
        self.gaps: list[Gap] = []

    @property
    def replacing(self) -> bool:
        with self._lock:
            return self._lost is not None

    def view(self) -> tuple[str | None, tuple[float, ...]]:
        """Why the avatar is being replaced (None if it is not), and the gaps so far in ms:
        read together, so a snapshot never sees a gap closed while its banner still shows."""
        with self._lock:
            return (self._lost[0] if self._lost else None), tuple(g.ms for g in self.gaps)

    def dropped(self, why: str, at: float) -> None:
        """The avatar dropped: replaced within the budget, else the conversation goes on in
        the model's own voice."""
        verdict = self.lost(why, at)
        if verdict == "already":
            return  # the same loss, seen again (its event and the stall watch)
        if verdict == "spent":
            self._voice_only(why)
            return
        self._note("avatar_lost", f"the avatar dropped ({why})", at, {"reason": why})
        self._replace(why)

    def lost(self, reason: str, at: float) -> Literal["replace", "already", "spent"]:
        """The avatar dropped at `at`: replace it; or a replacement is already under way; or
        the budget is spent and the conversation should go on without it."""
        with self._lock:
            if self._lost is not None:
                return "already"
            while self._recent and at - self._recent[0] > REPLACE_WINDOW_S:
                self._recent.popleft()
            if len(self._recent) >= MAX_REPLACEMENTS:
                return "spent"
            self._recent.append(at)
            self._lost = (reason, at)
        turns = self._timeline.snapshot_refs()
        if turns:
            self._timeline.stamp(turns[-1], "avatar_lost_at", at, latest=True)
        return "replace"

    def back(self, at: float) -> Gap | None:
        """The replacement showed its first frame: the gap, stamped (None if none was lost)."""
        with self._lock:
            if self._lost is None:
                return None
            reason, lost_at = self._lost
            self._lost = None
            gap = Gap(reason, lost_at, at)
            self.gaps.append(gap)
        turns = self._timeline.snapshot_refs()
        if turns and turns[-1].stage("avatar_lost_at") == lost_at:
            self._timeline.stamp(turns[-1], "avatar_back_at", at, latest=True)
        self._note(
            "avatar_replaced",
            f"avatar replaced in {gap.ms:.0f} ms ({reason})",
            at,
            {"ms": gap.ms, "reason": reason},
        )
        return gap

    def failed(self) -> tuple[str, float] | None:
        """The replacement could not start: what was lost (the budget entry stays spent)."""
        with self._lock:
            lost, self._lost = self._lost, None
            return lost

    def watch(self, period_s: float = 0.5) -> None:
        """While the conversation is live (its own thread): a stalled video is replaced; a
        replacement that cannot start leaves the conversation in the model's own voice."""
        while not self._closed():
            time.sleep(period_s)
            if not self._live():
                continue
            snap = self._avatar()
            if self.replacing:
                if snap.state == "error" and self.failed() is not None:
                    why = snap.problem.message if snap.problem else "it could not start"
                    self._voice_only(f"the replacement avatar failed: {why}")
                continue
            # Only a session that has shown its own first frame can stall (a new one is starting).
            age = snap.video_age_s if snap.first_frame_at is not None else None
            if snap.state == "live" and age is not None and age > STALL_REPLACE_S:
                self.dropped(f"no video for {age:.0f} s", time.time())
