"""Changes to other libraries' behaviour, in one place: one module per patched library, each
naming the distribution and the exact version it was read against.

`apply_all()` is the one call that applies them: `python -m lib serve` before the server starts
(the app, and so the benchmarks, run through it), and again on every run of the entry script and
once in the tests, where it is a cheap check. A patch whose library is installed at another
version is not applied, and a warning says so; one that fails is logged and left out, so that
no page is lost to it.
"""

from __future__ import annotations

import logging
import threading
from importlib import metadata
from typing import Final

from lib.patches import aioice, aiortc, streamlit, streamlit_webrtc
from lib.patches.patch import Patch

__all__ = ["PATCHES", "Patch", "apply_all"]
log = logging.getLogger(__name__)

PATCHES: Final[tuple[Patch, ...]] = (
    *aioice.PATCHES,
    *aiortc.PATCHES,
    *streamlit.PATCHES,
    *streamlit_webrtc.PATCHES,
)
_versions: dict[str, str | None] = {}
_reported = False
_lock = threading.Lock()  # first runs of several tabs at once must not patch twice


def _installed(distribution: str) -> str | None:
    if distribution not in _versions:
        try:
            _versions[distribution] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            _versions[distribution] = None
    return _versions[distribution]


def apply_all() -> list[str]:
    """Apply every patch whose library is at the checked version; the names of those active."""
    global _reported
    active, skipped = [], []
    with _lock:
        for patch in PATCHES:
            installed = _installed(patch.distribution)
            if installed != patch.checked:
                skipped.append(
                    f"{patch.name} ({patch.distribution} {installed}, read against {patch.checked})"
                )
                continue
            try:
                patch.apply()
            except Exception:  # a patch bug must not take the pages down: logged, left out
                log.exception("patch failed, left out: %s", patch.name)
                continue
            active.append(patch.name)
        if not _reported:
            _reported = True
            log.info("patches active: %s", "; ".join(active) or "none")
            for line in skipped:
                log.warning("patch not applied: %s", line)
    return active
