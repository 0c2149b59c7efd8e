"""The runner's watchdog, between calls: a quiet session is kept alive while its page is open,
renewed before the provider's duration cap (for a conversation), and reported for stopping
once its page is gone."""

from __future__ import annotations

import logging
import os
import time
from contextlib import AbstractContextManager
from typing import Protocol

from lib.runtime.avatar_outbox import Outbox, Outgoing
from lib.runtime.avatar_record import AvatarRecord
from lib.runtime.avatar_state import Live
from lib.runtime.watchdog import PageWatch

log = logging.getLogger(__name__)

WATCHDOG_PERIOD_S = 2.0
RENEW_BEFORE_S = 45.0
RENEW_BY_S = 8.0
# Providers end a session after ~2 minutes without a task (HeyGen's default idle timeout):
# while the page is open, a quiet session is kept alive well before that.
KEEPALIVE_S = float(os.environ.get("AVATARLAB_KEEPALIVE_S", "45"))


class Watched(Protocol):
    """What the watch needs of its runner (on the runner loop)."""

    def locked(self) -> AbstractContextManager[Live]: ...


class SessionWatch:
    def __init__(
        self,
        runner: Watched,
        page: PageWatch,
        outbox: Outbox,
        record: AvatarRecord,
        *,
        keepalive_s: float,
        renew_before_cap: bool,
    ) -> None:
        self._runner = runner
        self.page = page
        self._outbox, self._record = outbox, record
        self._keepalive_s = keepalive_s
        self._renew = renew_before_cap
        self._renewing: str | None = None  # the session a renewal was queued for
        self._active = time.monotonic()  # the last call that counts as activity for the provider

    @property
    def period_s(self) -> float:
        return min(WATCHDOG_PERIOD_S, self._keepalive_s / 2)

    def active(self) -> None:
        """A call the provider counts as activity (it restarts its idle timer)."""
        self._active = time.monotonic()

    async def check(self) -> bool:
        """One round of the watch. True: the page is gone while a session starts or runs,
        and the runner should stop it."""
        await self._keep_alive()
        if self._renew:
            self._renew_before_cap()
        with self._runner.locked() as lv:
            state = lv.state
        return state in ("starting", "live") and self.page.gone()

    async def _keep_alive(self) -> None:
        with self._runner.locked() as lv:
            session = lv.live_session()
        if session is None or time.monotonic() - self._active < self._keepalive_s:
            return
        if self.page.gone():
            return  # nobody is looking: let the watchdog stop it instead
        self._active = time.monotonic()
        with self._runner.locked() as lv:
            record_id = lv.record_id
        try:
            await session.keep_alive()
        except Exception as exc:  # noqa: BLE001 - an ended session shows as Disconnected
            log.info("keep-alive failed: %s", exc)
            return
        if record_id is not None:
            self._record.kept_alive(record_id)

    def _renew_before_cap(self) -> None:
        """The provider ends a session at its duration cap (HeyGen and the local server: 600 s).
        A conversation that runs longer would lose its avatar mid-sentence, so a fresh session
        replaces it first: queued behind what is already handed over, at the first quiet
        moment from RENEW_BEFORE_S before the cap, and by RENEW_BY_S before it at the latest
        (a cut answer beats losing the picture)."""
        with self._runner.locked() as lv:
            session, provider = lv.session, lv.provider
            if lv.state != "live" or session is None or session.closed or provider is None:
                return
        limit = session.duration_limit_s
        if not limit or session.session_id == self._renewing or self.page.gone():
            return
        left = session.started_at + limit - time.time()
        if left > RENEW_BEFORE_S:
            return
        self._renewing = session.session_id
        log.info("avatar session %s ends in %.0f s (cap): renewing it", session.session_id, left)
        self._outbox.push(
            Outgoing(
                "",
                switch_to=(provider, session.options),
                switch_reason="RENEWED_BEFORE_CAP",
                quiet_s=max(0.0, left - RENEW_BY_S),
            )
        )
