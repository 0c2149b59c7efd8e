"""Sessions — not built yet."""

import streamlit as st

st.title("Sessions")
st.info(
    "Not built yet. Here you will browse, search, export and delete recorded sessions. "
    "Avatar Studio works today, and the sessions you run there are already recorded."
)
