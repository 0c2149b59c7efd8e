"""Avatar Lab — entry point: navigation over the product's pages and the shared sidebar."""

from __future__ import annotations

import contextlib

import streamlit as st

from lib import patches
from lib.core import config
from lib.core.logs import log_to_stderr
from lib.runtime.instance_services import start_instance
from lib.store.database import StoreError, open_store
from lib.ui.error_guard import run_guarded
from lib.ui.identity import require_sign_in
from lib.ui.page_leave import enter_page, page_key
from lib.ui.sweep_progress import sweep_sidebar

st.set_page_config(page_title="Avatar Lab", page_icon=":material/record_voice_over:", layout="wide")

# (script, title, icon); the first is the default page.
PAGE_FILES = [
    ("pages/studio.py", "Avatar Studio", ":material/face:"),
    ("pages/conversation.py", "Conversation", ":material/forum:"),
    ("pages/latency.py", "Latency", ":material/timer:"),
    ("pages/costs.py", "Costs", ":material/payments:"),
    ("pages/experiments.py", "Experiments", ":material/science:"),
    ("pages/sessions.py", "Sessions", ":material/folder_open:"),
    ("pages/settings.py", "Settings", ":material/settings:"),
]
PAGES = [
    st.Page(script, title=title, icon=icon, default=i == 0)
    for i, (script, title, icon) in enumerate(PAGE_FILES)
]
# Cleanups are filed under the script's stem (the default page's url path is "").
PAGE_KEYS = {
    page.url_path: page_key(script) for page, (script, _, _) in zip(PAGES, PAGE_FILES, strict=True)
}


log_to_stderr()
patches.apply_all()  # applied before the server started; here a cheap check
start_instance()  # started by `lib serve` already (a no-op then); it draws nothing
# With sign-in configured, a signed-out visitor's run stops here: no pages, sidebar or data.
require_sign_in()
page = st.navigation(PAGES)
# Leaving a page releases what it holds (e.g. stops a paid avatar session).
enter_page(st.session_state, PAGE_KEYS[page.url_path])

with st.sidebar:
    st.markdown("**Avatar providers**")
    for name in config.PROVIDERS:
        status = config.provider_status(name)
        mark = ":green[:material/check_circle:]" if status.usable else ":material/block:"
        st.markdown(f"{mark} **{name}** — {status.reason}")
    with contextlib.suppress(StoreError):  # else the page itself says what is wrong
        sweep_sidebar(open_store())  # a running sweep's progress, on every page

# An error in the page: a reference in the browser, the traceback in the app log.
run_guarded(page.run, f"page {page.title!r}")
