"""The Experiments page's comparison of an experiment's configurations: medians and p90s with
their confidence intervals, which differences are significant at this sample size, the table
as CSV / Parquet / JSON, and what other chunk strategies would have given (the what-if)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any, Final

import pandas as pd
import streamlit as st

from lib.metrics.analytics import MIN_N, turns_frame
from lib.metrics.compare import METHOD, compare_table, differences, statement
from lib.metrics.latency import interval_label
from lib.store.database import Store
from lib.store.queries import Filters, experiments
from lib.ui.charts import strategy_figure
from lib.ui.plain_text import plain
from lib.ui.whatif_panel import whatif_panel
from lib.ui.widgets import downloads

STAGES: Final = ("e2e", "chunking", "model_ttft", "avatar_latency", "transcription")
HEADLINE: Final = ("e2e", "chunking")  # the stages the significance statement speaks of


def _with_ci(value: float, lo: float, hi: float) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:.0f} [{lo:.0f}–{hi:.0f}]"


def _cell(row: Mapping[Hashable, Any]) -> str:
    n = int(row["n"])
    med = _with_ci(float(row["median_ms"]), float(row["median_lo_ms"]), float(row["median_hi_ms"]))
    p90 = (
        _with_ci(float(row["p90_ms"]), float(row["p90_lo_ms"]), float(row["p90_hi_ms"]))
        if n >= MIN_N["p90"]
        else "—"
    )
    return f"{med} · p90 {p90} · n={n}"


def cells(table: pd.DataFrame) -> pd.DataFrame:
    """config × stage, each cell `median [CI] · p90 [CI] · n` in ms (p90 from 10 turns)."""
    text = [_cell(r) for r in table.to_dict("records")]
    pivot = table.assign(cell=text).pivot(index="config", columns="stage", values="cell")
    return pivot[[s for s in STAGES if s in pivot.columns]]


@st.cache_data(max_entries=16, show_spinner="Bootstrapping…")
def _compared(turns: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The table and the significance statements (cached: 10,000 resamples per cell take a
    second on a long sweep, and every widget on the page reruns it)."""
    said = {}
    for stage in HEADLINE:
        groups = {
            str(config): group[f"{stage}_ms"].dropna().to_numpy()
            for config, group in turns.groupby("config", sort=True)
        }
        said[stage] = statement(differences(groups, stage))
    return compare_table(turns, STAGES), said


def compare_panel(store: Store) -> None:
    """Pick an experiment; compare its configurations."""
    st.subheader("Compare configurations")
    recorded = experiments(store)
    if recorded.empty:
        st.info("No experiments yet: run a sweep above, or `python -m lib sweep` in a terminal.")
        return
    labels = {
        str(r["id"]): f"{r['name']} · {r['status']} · {str(r['id'])[:8]}"
        for r in recorded.to_dict("records")
    }
    exp = str(st.selectbox("Experiment", list(labels), format_func=labels.__getitem__))
    turns = turns_frame(store, Filters(experiment=exp))
    if turns.empty:
        st.info("This experiment has no turns recorded (yet).")
        return
    columns = ["config", "simulated", *(f"{s}_ms" for s in STAGES if f"{s}_ms" in turns)]
    table, said = _compared(turns[columns])
    st.plotly_chart(
        strategy_figure(
            table, spread=("median_lo_ms", "median_hi_ms"), spread_label="95 % CI of the median"
        ),
        key="experiment-strategy",
    )
    st.dataframe(cells(table))
    st.caption(
        "Milliseconds: median [95 % CI] · p90 [95 % CI] · turns. "
        f"p90 is shown from {MIN_N['p90']} turns."
    )
    downloads("Comparison table", table, key="experiment-compare", file_stem=f"compare-{exp[:8]}")
    for stage, lines in said.items():
        st.markdown(f"**{interval_label(stage).capitalize()}**")
        st.markdown("\n".join(f"- {plain(line)}" for line in lines))
    st.caption(METHOD)
    if turns["simulated"].any():
        st.caption(":orange[Model timing in this experiment is simulated (the embedded model).]")
    st.page_link(
        "pages/latency.py",
        label="Open in Latency, filtered to this experiment",
        icon=":material/timer:",
        query_params={"experiment": exp},
    )
    whatif_panel(store, exp)
