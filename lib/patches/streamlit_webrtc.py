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

The copy is the component's code, served same-origin with the app: it lives in a directory of
this user's (`$XDG_CACHE_HOME/avatarlab`, else `~/.cache/avatarlab`, else a 0700 folder named for
the uid in the temporary directory), and is served only if it and everything in it are ours,
not writable by group or others, not symlinks, and hash to exactly the files we would write. A
copy failing that (say, planted by another local user in a shared path) is set aside and built
afresh in a private directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat
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


def private_root(root: Path | None = None) -> Path:
    """This user's directory for the copy, created 0700 and checked (owner, mode, no symlink):
    `root` if given, else the cache directory, else a uid-named folder in the temporary one; if
    neither checks out (someone else made it first), a fresh 0700 temporary directory."""
    if root is not None:
        candidates = [root]
    else:
        candidates = [Path(tempfile.gettempdir()) / f"avatarlab-{os.getuid()}"]
        with contextlib.suppress(KeyError, RuntimeError):  # no home directory to be found
            cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
            candidates.insert(0, Path(cache) / "avatarlab")
    for folder in candidates:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            why = _not_ours(folder)
        except OSError as exc:
            why = str(exc)
        if why is None:
            return folder
        log.warning("not keeping the fixed frontend in %s: %s", folder, why)
    if root is not None:
        raise OSError(f"{root} is not a private directory")
    return Path(tempfile.mkdtemp(prefix="avatarlab-webrtc-"))


def _not_ours(path: Path) -> str | None:
    """Why `path` must not be trusted (None: a directory or file of ours that only we write)."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return "a symlink"
    if info.st_uid != os.getuid():
        return f"owned by uid {info.st_uid}"
    if info.st_mode & 0o022:
        return f"writable by others (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def tree_digest(files: dict[str, bytes]) -> str:
    """One hash over relative paths and contents: a file added, removed or changed shows."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def _read_tree(folder: Path) -> dict[str, bytes] | str:
    """The files under `folder` by relative path, or why the tree is not to be trusted."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        why = _not_ours(here)
        if why:
            return f"{here}: {why}"
        for name in filenames + [d for d in dirnames if (here / d).is_symlink()]:
            path = here / name
            why = _not_ours(path)
            if why is None and not stat.S_ISREG(path.lstat().st_mode):
                why = "not a plain file"
            if why:
                return f"{path}: {why}"
            files[str(path.relative_to(folder))] = path.read_bytes()
    return files


def untrusted(folder: Path, digest: str) -> str | None:
    """Why `folder` is not the copy we would build (None: it is, and only we can change it)."""
    if not folder.is_dir():
        return "missing"
    found = _read_tree(folder)
    if isinstance(found, str):
        return found
    return None if tree_digest(found) == digest else "its files differ from the fixed frontend"


def _build(source: Path, bundle: Path, fixed: str, into: Path) -> None:
    """The source tree with the fixed bundle, every directory 0700 and file 0600."""
    for dirpath, _, filenames in os.walk(source):
        rel = Path(dirpath).relative_to(source)
        (into / rel).mkdir(mode=0o700, exist_ok=True)
        for name in filenames:
            src = Path(dirpath) / name
            data = fixed.encode() if src == bundle else src.read_bytes()
            fd = os.open(into / rel / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)


def expected_tree(source: Path, bundle: Path, fixed: str) -> dict[str, bytes]:
    files = {str(p.relative_to(source)): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    files[str(bundle.relative_to(source))] = fixed.encode()
    return files


def patched_dir(source: Path | None = None, root: Path | None = None) -> Path:
    """The component's frontend with the fix, in this user's private directory: reused if it
    checks out (see `untrusted`), else built (atomically) afresh."""
    source = source or original_dir()
    bundle = start_bundle(source)
    fixed = patch(bundle.read_text())
    digest = tree_digest(expected_tree(source, bundle, fixed))
    version = metadata.version("streamlit-webrtc")
    base = private_root(root)
    target = base / f"webrtc-{version}-{digest[:12]}"
    why = untrusted(target, digest)
    if why is None:
        return target
    if os.path.lexists(target):
        log.warning("the fixed frontend at %s is not served (%s): building it afresh", target, why)
        aside = Path(tempfile.mkdtemp(prefix=target.name + ".untrusted.", dir=base))
        # If it cannot be moved, the fresh build below is served from its own folder.
        with contextlib.suppress(OSError):
            os.replace(target, aside / "copy")
        shutil.rmtree(aside, ignore_errors=True)
    building = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=base))  # 0700, ours
    _build(source, bundle, fixed, building)
    try:
        os.replace(building, target)
    except OSError:  # another process built it first, or an untrusted copy is still there
        if untrusted(target, digest) is None:
            shutil.rmtree(building, ignore_errors=True)
            return target
        return building
    return target


def serve_single_start_frontend() -> None:
    """Point streamlit-webrtc's component at the fixed copy (idempotent; rebuilt if the copy
    was removed: checked on every call, as a cache or temporary directory can be cleaned under a
    long-lived app; its contents were checked when it was chosen, and only we can write there).
    If the copy cannot be made, the original is served and the reason logged: connections then
    start as before."""
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
