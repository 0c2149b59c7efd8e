"""streamlit-webrtc's frontend, served with one fix: a start that is under way is not started
again.

The component (0.79, hooks version) starts a connection from an effect that reruns whenever
its `start` callback changes identity, which is on nearly every render (its dependencies are
the args, new objects each time, and callbacks of the parent). The state only leaves "stopped"
after the start's first `await` (the import of webrtc-adapter), so every render in that window
starts another RTCPeerConnection, and the answer goes to whichever was made last. Seen with one
tab on an idle machine: Streamlit rendered the component three times within 0.2 s of Start,
three peer connections were made, the answer made for one was given to another, its ICE
checks never succeeded, and every restart made two again (no frames in a minute, 10
restarts). Dropping repeated renders was tried and was not enough: the parent's own
re-renders do the same.

The fix marks a start as under way (`window.__avlStarting`, one component per iframe) and
clears the mark when the effect sees the state leave "stopped", or when the start fails. It is
three exact text edits of the pinned bundle; if any is not found exactly once (another
version), the original frontend is served and a warning logged. The copy lives in the
temporary directory, one per streamlit-webrtc version and fix.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

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
    was removed). If the copy cannot be made, the original is served and the reason logged:
    connections then start as before."""
    from streamlit.components.v1.custom_component import CustomComponent
    from streamlit.runtime import Runtime
    from streamlit_webrtc import component

    old = component._component_func
    # Checked on every page run: a temporary directory can be cleaned under a long-lived app.
    if getattr(old, "_avatarlab", False) and os.path.isdir(old.path or ""):
        return
    try:
        path = patched_dir()
    except (OSError, NotPatchable) as exc:
        log.warning("serving streamlit-webrtc's frontend unfixed: %s", exc)
        return
    # The same name, so the iframe's address (/component/<name>/) is what it always was.
    new = CustomComponent(name=old.name, path=str(path), module_name=old.module_name)
    new._avatarlab = True  # type: ignore[attr-defined]
    if Runtime.exists():
        Runtime.instance().component_registry.register_component(new)
    component._component_func = new
