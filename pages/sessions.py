"""Sessions: every recorded conversation and Studio session — search, read the transcript
aligned with when each piece was sent and spoken, export (CSV, JSON, Parquet), delete."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from lib.metrics.records import transcript, turn_table
from lib.store.database import Store, StoreError, open_store
from lib.ui.widgets import downloads


def when(ts: float) -> str:
    return f"{dt.datetime.fromtimestamp(ts):%Y-%m-%d %H:%M:%S}"


def conversation_list(store: Store, query: str) -> pd.DataFrame:
    convs = store.frame(
        """SELECT c.id, c.requested_at, c.stopped_at, c.avatar_provider, c.brain_provider,
                  c.bridge, c.chunking, c.status, c.timing, c.experiment_id,
                  COUNT(t.id) AS turns,
                  (SELECT u.user_text FROM turns u WHERE u.conversation_id = c.id
                     AND u.user_text != '' ORDER BY u.seq LIMIT 1) AS first_words
           FROM conversations c LEFT JOIN turns t ON t.conversation_id = c.id
           GROUP BY c.id ORDER BY c.requested_at DESC"""
    )
    if query:
        q = query.lower()
        hits = store.frame(
            """SELECT DISTINCT conversation_id FROM turns
               WHERE lower(user_text) LIKE ? OR lower(assistant_text) LIKE ?""",
            (f"%{q}%", f"%{q}%"),
        )["conversation_id"]
        convs = convs[convs["id"].isin(hits) | convs["id"].str.startswith(q)]
    convs["minutes"] = ((convs["stopped_at"] - convs["requested_at"]) / 60).round(2)
    return convs


st.title("Sessions")
try:
    store = open_store()
except StoreError as exc:
    st.error(str(exc))
    st.stop()

tab_conv, tab_studio = st.tabs(["Conversations", "Avatar Studio"])
with tab_conv:
    query = st.text_input("Search", placeholder="words said by either side, or an id").strip()
    convs = conversation_list(store, query)
    if convs.empty:
        st.info("No conversations recorded" + (f" with “{query}”." if query else " yet."))
    else:
        shown = convs.assign(started=convs["requested_at"].map(when))
        st.dataframe(
            shown[
                [
                    "started",
                    "bridge",
                    "chunking",
                    "avatar_provider",
                    "turns",
                    "minutes",
                    "status",
                    "timing",
                    "first_words",
                    "id",
                ]
            ],
            hide_index=True,
        )
        downloads("sessions", shown.drop(columns=["requested_at", "stopped_at"]), "all")
        labels = {
            str(r["id"]): f"{when(r['requested_at'])} · {r['bridge']} {r['chunking'] or ''} · "
            f"{r['turns']} turns · {str(r['id'])[:8]}"
            for r in convs.to_dict("records")
        }
        chosen = str(st.selectbox("Open", list(labels), format_func=labels.__getitem__))
        lines = transcript(store, chosen)
        st.subheader("Transcript")
        st.caption(
            "Seconds from the start of the session: the user's words at the end of their "
            "speech; each piece of the answer when it was sent, and when the avatar began and "
            "finished saying it."
        )
        st.dataframe(lines, hide_index=True)
        events = store.frame(
            "SELECT at, kind, payload FROM conversation_events WHERE conversation_id = ? "
            "ORDER BY at",
            (chosen,),
        )
        if not events.empty:
            with st.expander(f"Events ({len(events)})"):
                st.dataframe(events.assign(at=events["at"].map(when)), hide_index=True)
        downloads(f"transcript {chosen[:8]}", lines, "tr")
        downloads(f"turns {chosen[:8]}", turn_table(store, chosen), "turns")
        with st.form("delete"):
            sure = st.checkbox("Delete this session and everything recorded under it")
            if st.form_submit_button("Delete", type="primary") and sure:
                counts = store.delete_conversation(chosen)
                st.success("Deleted " + ", ".join(f"{n} {t}" for t, n in counts.items() if n) + ".")
                st.rerun()

with tab_studio:
    studio = store.frame(
        """SELECT s.id, s.requested_at, s.provider, s.avatar_id, s.voice_id, s.quality,
                  s.status, s.stop_reason, COUNT(t.id) AS tasks
           FROM avatar_sessions s LEFT JOIN avatar_tasks t ON t.session_id = s.id
           WHERE s.conversation_id IS NULL GROUP BY s.id ORDER BY s.requested_at DESC"""
    )
    if studio.empty:
        st.info("No Avatar Studio sessions recorded yet.")
    else:
        st.dataframe(studio.assign(started=studio["requested_at"].map(when)), hide_index=True)
        studio_labels = {
            str(i): f"{when(float(t))} · {p} · {a} · {str(i)[:8]}"
            for i, t, p, a in zip(
                studio["id"],
                studio["requested_at"],
                studio["provider"],
                studio["avatar_id"],
                strict=True,
            )
        }
        pick = str(
            st.selectbox(
                "Open",
                list(studio_labels),
                format_func=studio_labels.__getitem__,
                key="studio-open",
            )
        )
        tasks = store.tasks(pick)
        st.dataframe(tasks, hide_index=True)
        downloads(f"studio {pick[:8]}", tasks, "studio")
        if st.button("Delete this Studio session", key="studio-delete"):
            store.delete_avatar_session(pick)
            st.rerun()
