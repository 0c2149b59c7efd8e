"""Where both brains (Realtime session, text model) send what happens: their subscribers and,
with a store, their `brain_sessions` row and its events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lib.brain.events import BrainEvent
from lib.brain.record import record_event, record_stopped
from lib.store.database import Store

Subscriber = Callable[[BrainEvent], None]


class BrainOutlets:
    """Subscribers and the store record; the subclass names its logger and subscriber."""

    _log: logging.Logger
    _subscriber_failed: str  # the log line when a subscriber raises

    def __init__(self, provider: str, store: Store | None) -> None:
        self.provider = provider
        self._store = store
        self._subscribers: list[Subscriber] = []
        self.record_id: str | None = None

    def subscribe(self, fn: Subscriber) -> None:
        self._subscribers.append(fn)

    def _emit(self, ev: BrainEvent) -> None:
        for fn in list(self._subscribers):
            try:
                fn(ev)
            except Exception:  # noqa: BLE001 - a subscriber bug must not stop the session
                self._log.exception(self._subscriber_failed)

    def _open_record(self, row: dict[str, Any]) -> None:
        """The session's `brain_sessions` row, inserted once (kept across restarts)."""
        if self._store is not None and self.record_id is None:
            self.record_id = self._store.insert("brain_sessions", row)

    def _record(self, ev: BrainEvent) -> None:
        if self._store is not None and self.record_id is not None:
            record_event(self._store, self.record_id, ev)

    def _record_status(self, status: str, error: str | None = None) -> None:
        if self._store is not None and self.record_id is not None:
            fields: dict[str, Any] = {"status": status}
            if error:
                fields["error"] = error
            self._store.update("brain_sessions", self.record_id, fields)

    def _record_stopped(self) -> None:
        record_stopped(self._store, self.record_id)
