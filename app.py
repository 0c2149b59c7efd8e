"""Avatar Lab — entry point: navigation over the product's pages and the shared sidebar."""

from __future__ import annotations

import streamlit as st

from lib import config
from lib.lifecycle import REAP_INTERVAL_S, Reaper, default_factory, reap_providers
from lib.page_lifecycle import enter_page
from lib.store import StoreError, open_store

st.set_page_config(page_title="Avatar Lab", page_icon=":material/record_voice_over:", layout="wide")

PAGES = [
    st.Page("pages/studio.py", title="Avatar Studio", icon=":material/face:", default=True),
    st.Page("pages/conversation.py", title="Conversation", icon=":material/forum:"),
    st.Page("pages/latency.py", title="Latency", icon=":material/timer:"),
    st.Page("pages/costs.py", title="Costs", icon=":material/payments:"),
    st.Page("pages/experiments.py", title="Experiments", icon=":material/science:"),
    st.Page("pages/sessions.py", title="Sessions", icon=":material/folder_open:"),
    st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
]


@st.cache_resource
def _reaper() -> Reaper | None:
    """Once per app process: recover what a crashed run left, then keep watching."""
    try:
        store = open_store()
    except StoreError:
        return None  # the pages show the database problem
    return Reaper(store, default_factory, reap_providers(), REAP_INTERVAL_S).start()


_reaper()
page = st.navigation(PAGES)
# Leaving a page releases what it holds (e.g. stops a paid avatar session).
enter_page(st.session_state, page.url_path)

with st.sidebar:
    st.markdown("**Avatar providers**")
    for name in config.PROVIDERS:
        status = config.provider_status(name)
        mark = ":green[:material/check_circle:]" if status.usable else ":material/block:"
        st.markdown(f"{mark} **{name}** — {status.reason}")

page.run()
