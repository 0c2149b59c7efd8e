"""Conversation — not built yet."""

import streamlit as st

st.title("Conversation")
st.info(
    "Not built yet. Here you will talk to a voice agent and watch the avatar answer. "
    "Avatar Studio works today, and the sessions you run there are already recorded."
)
