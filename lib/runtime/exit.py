"""Process exit: every paid session still open is stopped, with the reason APP_EXIT."""

from __future__ import annotations

import atexit
import weakref
from typing import Generic, Protocol, TypeVar


class Stoppable(Protocol):
    def shutdown(self, reason: str) -> None: ...


S = TypeVar("S", bound=Stoppable)


class StopAtExit(Generic[S]):
    """The open ones of a kind (runners, conversations), shut down at process exit. Each
    registry registers itself with `atexit`, so the last one created is stopped first."""

    def __init__(self) -> None:
        self._open: weakref.WeakSet[S] = weakref.WeakSet()
        atexit.register(self._stop_all)

    def add(self, one: S) -> None:
        self._open.add(one)

    def discard(self, one: S) -> None:
        self._open.discard(one)

    def _stop_all(self) -> None:
        for one in list(self._open):
            one.shutdown("APP_EXIT")
