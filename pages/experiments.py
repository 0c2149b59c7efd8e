"""Experiments — not built yet."""

import streamlit as st

st.title("Experiments")
st.info(
    "Not built yet. Here you will run sweeps over bridge modes and chunk strategies. "
    "Avatar Studio works today, and the sessions you run there are already recorded."
)
