"""A page's unexpected error: the browser gets a short message with a reference, the app log
the traceback under the same reference.

Tracebacks name files, paths and values (a provider's reply, a query): they are for the log, not
for whoever has the page open. `client.showErrorDetails = "none"` (.streamlit/config.toml) covers
what runs outside the guard (callbacks, fragment reruns) with Streamlit's own redacted message.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

import streamlit as st
from streamlit.errors import FragmentHandledException
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

log = logging.getLogger(__name__)


def run_guarded(run: Callable[[], object], what: str) -> str | None:
    """Runs `run`; on an error, logs it and shows a reference. Streamlit's control flow
    (st.rerun, st.stop, st.switch_page) and a fragment's error Streamlit has already shown pass
    through. The reference shown, or None."""
    try:
        run()
    except (ScriptControlException, FragmentHandledException):
        raise
    except Exception:
        reference = secrets.token_hex(3)
        log.exception("%s failed (reference %s)", what, reference)
        st.error(f"Something went wrong (reference {reference}); the app log has the details.")
        return reference
    return None
