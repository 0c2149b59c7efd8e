"""streamlit-webrtc 0.79.0, patched where it broke streams under st.navigation and on a slow
browser.

Upstream bugs: its page-leave check compares page hashes that differ under st.navigation while
the user stays, so media stopped at a random rerun; its frontend starts a connection from an
effect that reruns on nearly every render (the `start` callback changes identity each time), so
one Start made two or three peer connections and gave the answer made for one to another.

The frontend fix is three exact text edits of the pinned bundle, served from a copy: a start
under way (`window.__avlStarting`, one component per iframe) is not started again; the mark
clears when the state leaves "stopped" or the start fails. If any edit's anchor is not found
exactly once, the original frontend is served and a warning logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from lib.patches.patch import Patch

log = logging.getLogger(__name__)

FLAG = "window.__avlStarting"
EDITS: tuple[tuple[str, str], ...] = (
    # start: skip while a start is under way, else mark one.
    (
        "c.webRtcState===`STOPPED`?(async()=>{await mw(",
        f"c.webRtcState===`STOPPED`?{FLAG}?Promise.resolve():({FLAG}=!0,(async()=>{{await mw(",
    ),
    # ... and a start that failed is no longer under way.
    (
        "})().catch(e=>l({type:`ERROR`,error:e})):Promise.reject(",
        f"}})().catch(e=>{{{FLAG}=!1,l({{type:`ERROR`,error:e}})}})):Promise.reject(",
    ),
    # The start/stop effect: once the state has left "stopped", the start is done.
    (
        "(0,J.useEffect)(()=>{let t=e.desiredPlayingState;",
        f"(0,J.useEffect)(()=>{{c.webRtcState!==`STOPPED`&&({FLAG}=!1);"
        "let t=e.desiredPlayingState;",
    ),
)


class NotPatchable(RuntimeError):
    pass


def patch(bundle: str) -> str:
    """The bundle with EDITS applied; NotPatchable unless each anchor occurs exactly once."""
    for old, new in EDITS:
        if bundle.count(old) != 1:
            raise NotPatchable(f"found {bundle.count(old)} times, not once: {old[:60]}")
        bundle = bundle.replace(old, new)
    return bundle


def original_dir() -> Path:
    import streamlit_webrtc

    return Path(streamlit_webrtc.__file__).parent / "frontend" / "dist"


def start_bundle(source: Path) -> Path:
    """The one script of the frontend that holds the start."""
    found = [js for js in (source / "assets").glob("index-*.js") if EDITS[0][0] in js.read_text()]
    if len(found) != 1:
        raise NotPatchable(f"{len(found)} scripts hold the start in {source / 'assets'}")
    return found[0]


def patched_dir(source: Path | None = None, root: Path | None = None) -> Path:
    """The component's frontend with the fix, built once (atomically) and then reused."""
    source = source or original_dir()
    bundle = start_bundle(source)
    fixed = patch(bundle.read_text())
    version = metadata.version("streamlit-webrtc")
    tag = hashlib.sha256(fixed.encode()).hexdigest()[:12]
    target = (root or Path(tempfile.gettempdir())) / f"avatarlab-webrtc-{version}-{tag}"
    if (target / "assets" / bundle.name).exists():
        return target
    building = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    shutil.copytree(source, building, dirs_exist_ok=True)
    (building / "assets" / bundle.name).write_text(fixed)
    try:
        os.replace(building, target)
    except OSError:  # another process built it first
        shutil.rmtree(building, ignore_errors=True)
    return target


def serve_single_start_frontend() -> None:
    """Point streamlit-webrtc's component at the fixed copy (idempotent; rebuilt if the copy
    was removed: checked on every call, as a temporary directory can be cleaned under a
    long-lived app). If the copy cannot be made, the original is served and the reason logged:
    connections then start as before."""
    from streamlit.components.v1.custom_component import CustomComponent

    with _quiet_before_the_server():
        from streamlit_webrtc import component

    old = component._component_func
    if not (getattr(old, "_avatarlab", False) and os.path.isdir(old.path or "")):
        try:
            path = patched_dir()
        except (OSError, NotPatchable) as exc:
            log.warning("serving streamlit-webrtc's frontend unfixed: %s", exc)
            return
        # The same name, so the iframe's address (/component/<name>/) is what it always was.
        new = CustomComponent(name=old.name, path=str(path), module_name=old.module_name)
        new._avatarlab = True  # type: ignore[attr-defined]
        component._component_func = new
    _register(component._component_func)


def _register(fixed: Any) -> None:
    """The server serves a component's files from its runtime's registry: once there is a
    runtime (the patches are applied before the server starts), the fixed copy is registered."""
    from streamlit.runtime import Runtime

    if Runtime.exists():
        registry = Runtime.instance().component_registry
        if registry.get_component_path(fixed.name) != fixed.path:
            registry.register_component(fixed)


@contextlib.contextmanager
def _quiet_before_the_server() -> Iterator[None]:
    """streamlit-webrtc decorates functions with st.cache_data when imported; before the server
    starts Streamlit warns that no runtime holds those caches. Each call looks its cache up in
    the runtime of the moment, so the warning says nothing here."""
    names = (
        "streamlit.runtime.caching.cache_data_api",
        "streamlit.runtime.scriptrunner_utils.script_run_context",
    )
    loggers = [logging.getLogger(n) for n in names]
    drop = logging.Filter("nothing")  # Streamlit sets these loggers' levels itself: filter instead
    for lg in loggers:
        lg.addFilter(drop)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(drop)


DISTRIBUTION: Final = "streamlit-webrtc"
CHECKED: Final = "0.79.0"
_applied: set[str] = set()


def ignore_misread_navigation() -> None:
    """The page-leave hash check is turned off: page leave is decided by `lib.ui.page_leave`
    from the page the navigation runs, and a closed tab still ends the session through the
    observer's other trigger (session shutdown)."""
    if "navigation" in _applied:
        return
    with _quiet_before_the_server():
        from streamlit_webrtc.shutdown import SessionShutdownObserver

    SessionShutdownObserver._resolve_initial_page_script_hash = staticmethod(  # type: ignore[method-assign]
        lambda app_session: ""
    )
    _applied.add("navigation")


PATCHES: Final = (
    Patch("page leave decided by the app", DISTRIBUTION, CHECKED, ignore_misread_navigation),
    Patch("one start at a time", DISTRIBUTION, CHECKED, serve_single_start_frontend),
)
