"""Latency — not built yet."""

import streamlit as st

st.title("Latency")
st.info(
    "Not built yet. Here you will see per-turn waterfalls and percentiles. "
    "Avatar Studio works today, and the sessions you run there are already recorded."
)
