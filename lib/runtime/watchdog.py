"""When a page is gone: the one rule every watchdog of a paid session uses."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TabOpen = Callable[[], bool]
# No page poll for this long → the tab is gone: stop paying. (Env override for tests.)
HEARTBEAT_TIMEOUT_S = float(os.environ.get("AVATARLAB_HEARTBEAT_TIMEOUT", "30"))


@dataclass
class PageWatch:
    """The heartbeat of the page that owns a paid session, and whether that page is gone.
    `limit=None`: no page watches (CLI, benchmarks), so it is never gone. `tab_open`: is the
    page's tab still connected? Then a late heartbeat is a slow page, not a closed one."""

    limit: float | None
    tab_open: TabOpen | None = None
    last: float = field(default_factory=time.monotonic)  # the last heartbeat (monotonic)

    def beat(self) -> None:
        self.last = time.monotonic()

    def gone(self) -> bool:
        """The page is gone when its heartbeat is older than `limit` and its tab is not
        connected (when that can be asked)."""
        if self.limit is None or time.monotonic() - self.last <= self.limit:
            return False
        return not (self.tab_open is not None and self.tab_open())
