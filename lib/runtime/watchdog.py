"""When a page is gone: the one rule every watchdog of a paid session uses."""

from __future__ import annotations

import time
from collections.abc import Callable

TabOpen = Callable[[], bool]


def page_gone(last_heartbeat: float, limit: float | None, tab_open: TabOpen | None) -> bool:
    """The rule every watchdog uses: the page is gone when its heartbeat (monotonic) is older
    than `limit` and its tab is not connected (when that can be asked). `limit=None`: no
    page watches, so it is never gone."""
    if limit is None or time.monotonic() - last_heartbeat <= limit:
        return False
    return not (tab_open is not None and tab_open())
