"""Sessions: every recorded conversation and Studio session and who made it — filter by
person, search, read the transcript aligned with when each piece was sent and spoken, export
(CSV, JSON, Parquet), delete."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from lib.metrics.records import transcript, turn_table
from lib.store.database import Store
from lib.store.queries import (
    Filters,
    conversation_events,
    conversation_summaries,
    conversations_saying,
    studio_sessions,
)
from lib.ui.first_run import first_run
from lib.ui.widgets import downloads, people_picker, person, store_or_stop


def when(ts: float) -> str:
    return f"{dt.datetime.fromtimestamp(ts):%Y-%m-%d %H:%M:%S}"


def conversation_list(store: Store, query: str, people: tuple[str, ...]) -> pd.DataFrame:
    convs = conversation_summaries(store, Filters(people=people))
    if query:
        q = query.lower()
        hits = conversations_saying(store, q)
        convs = convs[convs["id"].isin(hits) | convs["id"].str.startswith(q)]
    convs["minutes"] = ((convs["stopped_at"] - convs["requested_at"]) / 60).round(2)
    convs["person"] = convs["created_by"].map(person)
    return convs


st.title("Sessions")
store = store_or_stop()
first_run(store, "Sessions")
people = people_picker(store, "sessions")

tab_conv, tab_studio = st.tabs(["Conversations", "Avatar Studio"])
with tab_conv:
    query = st.text_input("Search", placeholder="words said by either side, or an id").strip()
    convs = conversation_list(store, query, people)
    if convs.empty:
        by = " by the people chosen" if people else ""
        st.info("No conversations recorded" + by + (f" with “{query}”." if query else " yet."))
    else:
        shown = convs.assign(started=convs["requested_at"].map(when))
        st.dataframe(
            shown[
                [
                    "started",
                    "person",
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
        downloads(
            "sessions", shown.drop(columns=["requested_at", "stopped_at", "created_by"]), "all"
        )
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
        events = conversation_events(store, chosen)
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
    studio = studio_sessions(store, people)
    if studio.empty:
        st.info(
            "No Avatar Studio sessions recorded" + (" by the people chosen." if people else " yet.")
        )
    else:
        st.dataframe(
            studio.assign(
                started=studio["requested_at"].map(when), person=studio["created_by"].map(person)
            ).drop(columns=["created_by"]),
            hide_index=True,
        )
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
