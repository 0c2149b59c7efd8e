"""Costs: what each session and configuration costs, against versioned pricing tables.

Recorded usage (every response.done, input transcription) and avatar streaming time, priced
by `lib.metrics.pricing.cost` with the table in effect on each session's day or any table you pick;
streaming minutes over time; $/min against median latency per configuration; a monthly
projection with the plan that fits; and the tables themselves, editable with validation.
"""

from __future__ import annotations

import getpass

import pandas as pd
import streamlit as st

from lib.metrics.analytics import COST_COMPONENTS, session_costs
from lib.metrics.pricing.cost import Output, projection
from lib.metrics.pricing.tables import PricingError, table_in_effect
from lib.metrics.pricing.versions import save_table, table_versions, when
from lib.ui.charts import cost_stack, cost_vs_latency, minutes_over_time
from lib.ui.first_run import first_run
from lib.ui.widgets import filter_bar, person, store_and_tables_or_stop, usd

LOCAL_AS = {
    "heygen": "HeyGen Interactive Avatar",
    "liveavatar": "LiveAvatar FULL",
    "liveavatar_lite": "LiveAvatar LITE",
}


def local_user() -> str | None:
    """This machine's user name, recorded with a saved table (None when the system has none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


st.title("Costs")
store, tables = store_and_tables_or_stop(
    "What to do: fix or remove the table named above (Costs page → Pricing tables)."
)
first_run(store, "Costs")

filters = filter_bar(store, "costs")
c1, c2 = st.columns(2)
names = ["", *sorted(tables)]
pricing = c1.selectbox(
    "Pricing table",
    names,
    format_func=lambda n: n or "the table in effect on each session's day",
    help="Re-price history with any table; tables are versioned.",
)
local_as = c2.selectbox(
    "Price the embedded avatar as",
    list(LOCAL_AS),
    format_func=LOCAL_AS.__getitem__,
    help="Local sessions cost nothing; this shows what the same minutes would cost.",
)
costs = session_costs(store, tables, pricing=pricing or None, local_as=local_as, filters=filters)

if costs.empty:
    st.info("No sessions recorded for these filters yet.")
else:
    total, minutes = costs["total_usd"].sum(), costs["minutes"].sum()
    m = st.columns(4)
    m[0].metric("Sessions", len(costs))
    m[1].metric("Session minutes", f"{minutes:,.1f}")
    m[2].metric("Estimated cost", usd(total, 2))
    m[3].metric("Per minute", usd(total / minutes if minutes else None))
    if costs["estimated"].any():
        st.caption(
            ":orange[Embedded providers are priced as what the same usage would cost: the model "
            "at OpenAI's prices (its usage follows OpenAI's accounting), the avatar as "
            f"{LOCAL_AS[local_as]}.]"
        )
    st.subheader("Cost per session, by component")
    st.plotly_chart(cost_stack(costs.tail(60)), key="cost-stack")
    left, right = st.columns(2)
    with left:
        st.subheader("Streaming minutes over time")
        st.plotly_chart(minutes_over_time(costs), key="minutes")
    with right:
        st.subheader("Cost per minute vs latency")
        st.plotly_chart(cost_vs_latency(costs), key="cost-latency")
    with st.expander("Per session"):
        cols = ["started", "person", "config", "avatar_provider", "minutes", "turns"]
        shown = costs.assign(person=costs["created_by"].map(person))[
            [*cols, *COST_COMPONENTS, "total_usd", "usd_per_min", "pricing", "notes"]
        ]
        money = [c for c in shown if pd.api.types.is_float_dtype(shown[c])]
        st.dataframe(shown.round(dict.fromkeys(money, 4)), hide_index=True)

st.subheader("Monthly projection")
p1, p2, p3, p4, p5 = st.columns(5)
month_minutes = p1.number_input("Minutes a month", 0, 10_000_000, 1000, 100)
talk = p2.slider("Talk ratio", 0.05, 1.0, 0.5, 0.05, help="share of each minute with speech")
avatar = str(p3.selectbox("Avatar", list(LOCAL_AS), format_func=LOCAL_AS.__getitem__))
output: Output = "audio" if p4.radio("Model answers in", ("text", "audio")) == "audio" else "text"
proj_table_name = p5.selectbox(
    "Prices", sorted(tables), index=sorted(tables).index(table_in_effect(tables).name)
)
proj_table = tables[proj_table_name]
try:
    models = sorted(proj_table.realtime) or ["gpt-realtime"]
    result = projection(
        proj_table,
        float(month_minutes),
        talk_ratio=float(talk),
        avatar=avatar,
        model=models[0] if "gpt-realtime" not in models else "gpt-realtime",
        output=output,
    )
except ValueError as exc:
    st.error(str(exc))
else:
    fit = "fits" if result["plan_fits"] else "does not fit any listed plan (lower bound)"
    st.markdown(
        f"**{usd(result['total_usd'], 2)} a month** · avatar {usd(result['avatar_usd'], 2)} on "
        f"**{result['plan'] or '—'}** ({fit}, {result['avatar_credits']:,.0f} credits) · model "
        f"{usd(result['model_total_usd'], 2)} · {usd(result['usd_per_minute'], 4)}/min"
    )
    plans = pd.DataFrame(result["plans"])
    if not plans.empty:
        st.dataframe(plans, hide_index=True)
    if len(costs) and costs["minutes"].sum() > 0:
        measured = costs["total_usd"].sum() / costs["minutes"].sum()
        st.caption(
            f"From your recorded sessions: {usd(measured, 4)}/min → "
            f"{usd(measured * month_minutes, 2)} for {month_minutes:,} minutes."
        )

st.subheader("Pricing tables")
name = st.selectbox("Table", sorted(tables), key="edit-table")
table = tables[name]
st.caption(
    f"{table.description} · version {table.version} · effective from {table.effective_from} · "
    f"{table.origin}"
)
entries = (
    [
        {"what": f"OpenAI {k}", "model": e.model, "source": e.source, "as of": e.as_of}
        for k, group in (
            ("realtime", table.realtime),
            ("text", table.text),
            ("transcription", table.transcription),
        )
        for e in group.values()
    ]
    + [
        {"what": f"avatar {b.key}", "model": "", "source": b.source, "as of": b.as_of}
        for b in table.avatar.values()
    ]
    + [
        {"what": f"plan {p.provider} {p.name}", "model": "", "source": p.source, "as of": p.as_of}
        for p in table.plans
    ]
)
st.dataframe(pd.DataFrame(entries), hide_index=True)
st.caption(f"Versions of {name}, shared by every instance on this database")
versions = [
    {
        "version": v.version,
        "effective from": v.effective_from,
        "saved by": v.saved_by or "built in",
        "saved at": when(v.saved_at) if v.saved_at is not None else "",
        "in use": v.version == table.version,
    }
    for v in table_versions(store, name)
]
st.dataframe(pd.DataFrame(versions), hide_index=True)
with st.form("edit-pricing"):
    raw = st.text_area("TOML", table.raw, height=320, help="Raise `version` to keep history.")
    if st.form_submit_button("Validate and save"):
        try:
            saved = save_table(store, raw, created_by=local_user())
        except PricingError as exc:
            st.error(f"Not saved — {exc}")
        else:
            st.success(f"Saved {saved.name} version {saved.version} for everyone on this database")
