"""Our modules' INFO lines (session starts and stops, page cleanups, active patches) on stderr,
beside Streamlit's."""

from __future__ import annotations

import logging

_HANDLER_NAME = "avatarlab"


def log_to_stderr() -> None:
    """Idempotent: the entry points all call it, whichever runs first."""
    logger = logging.getLogger("lib")
    if any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
