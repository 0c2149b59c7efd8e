"""Costs — not built yet."""

import streamlit as st

st.title("Costs")
st.info(
    "Not built yet. Here you will see per-session cost against versioned pricing tables. "
    "Avatar Studio works today, and the sessions you run there are already recorded."
)
