"""The Conversation page's record of the last conversation: its turns and, for an interview,
the answers, each downloadable."""

from __future__ import annotations

import streamlit as st

from lib.metrics.records import interview_answers, turn_table
from lib.store.database import StoreError, open_store
from lib.ui.widgets import downloads


def render_exports(record_id: str) -> None:
    try:
        turns = turn_table(open_store(), record_id)
    except StoreError as exc:
        st.error(str(exc))
        return
    if turns.empty:
        return
    with st.expander(f"Recorded turns ({len(turns)})", expanded=False):
        cols = [
            "seq",
            "agent",
            "source",
            "user_text",
            "assistant_text",
            "status",
            "chunks",
            "e2e_ms",
            "model_ttft_ms",
            "chunking_ms",
            "avatar_latency_ms",
        ]
        st.dataframe(turns[[c for c in cols if c in turns]], hide_index=True)
        interview = bool((turns["agent"] == "interviewer").any())
        answers = interview_answers(turns) if interview else None
        tables = {"turns": turns}
        if answers is not None and not answers.empty:
            st.markdown("**Interview answers**")
            st.dataframe(answers, hide_index=True)
            tables["interview"] = answers
        for name, table in tables.items():
            downloads(name, table, f"export-{name}", f"conversation-{record_id[:8]}-{name}")
