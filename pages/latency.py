"""Latency: how fast each configuration feels, from the recorded per-turn stamps.

KPIs, end to end per turn against the 1 s / 2 s bands, percentiles per stage with n (hidden
when n is too small to quote), the ECDF per configuration, chunk strategy vs first-piece
delay and end to end, and the stage waterfall of one chosen session. Filters: provider,
bridge mode, chunk strategy, experiment, dates, people. Simulated model timings are marked.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from lib.metrics.analytics import MIN_N, latency_page_data, turn_costs
from lib.metrics.latency import interval_label
from lib.ui.charts import (
    e2e_per_turn,
    ecdf_figure,
    session_waterfall,
    strategy_figure,
)
from lib.ui.first_run import first_run
from lib.ui.widgets import filter_bar, ms, store_and_tables_or_stop, usd

st.title("Latency")
store, tables = store_and_tables_or_stop()
first_run(store, "Latency")

filters = filter_bar(store, "latency")
data = latency_page_data(store, tables, filters)
turns = data.turns
if turns.empty:
    st.info(
        "No turns recorded for these filters yet. Hold a conversation on the Conversation page, "
        "or run a sweep on the Experiments page."
    )
    st.stop()

k = data.kpis
cols = st.columns(7)
cols[0].metric("Sessions", k["sessions"])
cols[1].metric("Turns", k["turns"])
cols[2].metric("Median end to end", ms(k["e2e_p50_ms"]), help=f"n = {k['e2e_n']}")
cols[3].metric(
    "p90 end to end",
    ms(k["e2e_p90_ms"]),
    help=f"n = {k['e2e_n']}; shown from n ≥ {MIN_N['p90']}",
)
rate = k["interruption_rate"]
cols[4].metric("Interrupted", "—" if rate is None else f"{rate:.0%}")
cols[5].metric(
    "Avatar start-up", ms(k["avatar_startup_p50_ms"]), help="start → first frame, median"
)
cols[6].metric("Cost per minute", usd(k["usd_per_min"]), help="priced on the Costs page's rules")
if k["simulated_share"] > 0:
    st.caption(
        f":orange[:material/science: {k['simulated_share']:.0%} of these turns have **simulated** "
        "model timing (the embedded model); configurations marked “(simulated)”.]"
    )

st.subheader("End to end per turn")
st.plotly_chart(e2e_per_turn(turns), key="e2e-per-turn")

left, right = st.columns(2)
with left:
    st.subheader("Percentiles per stage")
    table = data.percentiles.copy()
    table["stage"] = table["stage"].map(interval_label)
    for col in ("p50", "p90", "p95", "p99"):
        table[col] = [
            ms(v) if n >= MIN_N[col] else f"— (n < {MIN_N[col]})"
            for v, n in zip(table[col], table["n"], strict=True)
        ]
    st.dataframe(table, hide_index=True)
with right:
    st.subheader("ECDF per configuration")
    st.plotly_chart(ecdf_figure(turns), key="ecdf")

st.subheader("Chunk strategy: first-piece delay and end to end")
st.plotly_chart(strategy_figure(data.by_config), key="strategy")
small = data.by_config[(data.by_config["stage"] == "e2e") & (data.by_config["n"] < MIN_N["p90"])]
if not small.empty:
    st.caption(
        "Few turns for "
        + ", ".join(f"{c} (n={n})" for c, n in zip(small["config"], small["n"], strict=True))
        + ": read their medians with care."
    )

st.subheader("One session, turn by turn")
sessions = (
    turns.groupby("conversation_id", as_index=False)
    .agg(at=("conversation_at", "first"), config=("config", "first"), n=("seq", "count"))
    .sort_values("at", ascending=False)
)
labels = {
    str(c): f"{dt.datetime.fromtimestamp(float(at)):%Y-%m-%d %H:%M} · {cfg} · {n} turns · {c[:8]}"
    for c, at, cfg, n in zip(
        sessions["conversation_id"], sessions["at"], sessions["config"], sessions["n"], strict=True
    )
}
choice = st.selectbox("Session", list(labels), format_func=labels.__getitem__)
one = turns[turns["conversation_id"] == choice]
st.plotly_chart(session_waterfall(one), key="session-waterfall")
shown = [
    "seq",
    "status",
    "user_text",
    "e2e_ms",
    "model_ttft_ms",
    "chunking_ms",
    "avatar_latency_ms",
]
per_turn = one[shown].merge(turn_costs(store, tables, choice), on="seq", how="left")
st.dataframe(
    per_turn.rename(columns={"seq": "turn"}).round({c: 0 for c in shown[3:]} | {"total_usd": 5}),
    hide_index=True,
    column_config={"model_usd": None, "avatar_usd": None},
)
st.caption(
    "Cost per turn: the model's usage of that turn, plus the session's avatar time split by "
    "how long each turn lasted."
)
