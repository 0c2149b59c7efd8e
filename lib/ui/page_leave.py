"""Cleanup when the user leaves a page (st.navigation). The entry script calls
`enter_page(state, page)` on every run; a page registers what to release when left.

streamlit-webrtc's SessionShutdownObserver compares page hashes that differ under
st.navigation even when the user stays, so page-leave is decided here, from the page the
navigation actually runs. Tab close is covered by the runners' heartbeat watchdogs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lib.runtime.watchdog import TabOpen

# st.session_state (a SessionStateProxy) or any dict: only item access and setdefault are used.
PageState = Any
log = logging.getLogger(__name__)

KEY = "_page_cleanups"


def enter_page(state: PageState, page: str) -> list[str]:
    ran = leave_other_pages(state, page)
    if ran:
        log.info("page %r entered: cleaned up %s", page, ", ".join(ran))
    return ran


def page_key(script: str) -> str:
    """The name a page's cleanups are filed under: its script's stem (not the url path: the
    default page's is ""). The entry script enters the page under the same name."""
    return Path(script).stem


def on_leave(state: PageState, page: str, name: str, cleanup: Callable[[], None]) -> None:
    cleanups: dict[str, dict[str, Callable[[], None]]] = state.setdefault(KEY, {})
    cleanups.setdefault(page, {})[name] = cleanup


def leave_other_pages(state: PageState, current: str) -> list[str]:
    """Run and forget the cleanups of every page except `current`; returns what ran."""
    cleanups: dict[str, dict[str, Callable[[], None]]] = state.get(KEY, {})
    ran = []
    for page in [p for p in cleanups if p != current]:
        for name, fn in cleanups.pop(page).items():
            # Off the script thread: stopping a provider session takes a network round trip,
            # and the page the user asked for must not wait for it.
            threading.Thread(target=fn, name=f"leave-{page}-{name}", daemon=True).start()
            ran.append(f"{page}:{name}")
    return ran


def tab_open_check() -> TabOpen | None:
    """A check, callable from any thread, that the browser tab of the current script run is
    still connected (None outside a Streamlit run). Watchdogs use it so that a page which is
    connected but slow to poll (a long run, a starved browser) is not taken for a closed tab."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None or not Runtime.exists():
        return None
    session_id = ctx.session_id

    def tab_open() -> bool:
        # Thread-safe in Streamlit's websocket session manager (documented there).
        return Runtime.exists() and Runtime.instance().is_active_session(session_id) is True

    return tab_open
