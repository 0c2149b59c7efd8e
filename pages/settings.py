"""Settings: which providers are usable and why — never a key value."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.core import config

st.title("Settings")
st.caption(
    "Keys are read from `.streamlit/secrets.toml`, then the environment. They stay on the "
    "server: this page only says whether each one is set."
)

rows = []
for name, spec in config.PROVIDERS.items():
    status = config.provider_status(name)
    rows.append(
        {
            "provider": name,
            "what": spec.label,
            "usable": "yes" if status.usable else "no",
            "why": status.reason,
            "key": spec.key_name or "—",
            "base URL setting": spec.url_name or "embedded",
        }
    )
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

st.subheader("Storage")
st.write(
    f"Sessions, tasks and events are recorded in `{config.db_path()}` "
    "(set `AVATARLAB_DB` to use another file)."
)

st.subheader("How to add a key")
st.code('HEYGEN_API_KEY = "..."\nLIVEAVATAR_API_KEY = "..."\n', language="toml")
st.caption("Put these in `.streamlit/secrets.toml` (git-ignored) or export them before `make run`.")
