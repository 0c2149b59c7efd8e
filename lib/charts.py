"""Plotly figures shared by the pages (one look for the same data everywhere)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from lib.latency import Bar

COLORS: Final = {
    "stage": "#4C78A8",  # critical path
    "lane": "#B5C7DB",  # in parallel (transcript, streaming, speaking)
    "queued": "#F2C98B",  # a piece waiting in the avatar's queue
    "chunk": "#54A24B",  # a piece being spoken
}
LEGEND: Final = {
    "stage": "critical path",
    "lane": "in parallel",
    "queued": "piece queued at the avatar",
    "chunk": "piece spoken",
}


def waterfall_figure(
    bars: Sequence[Bar],
    title: str = "",
    height: int | None = None,
    marker_ms: float | None = None,
    marker_label: str = "avatar starts talking",
) -> go.Figure:
    """Horizontal bars from the turn's origin (user speech end), in milliseconds; an optional
    dashed line at `marker_ms` (the end-to-end latency)."""
    rows: list[str] = []
    for b in bars:
        if b.row not in rows:
            rows.append(b.row)
    fig = go.Figure()
    for kind, color in COLORS.items():
        mine = [b for b in bars if b.kind == kind]
        if not mine:
            continue
        fig.add_trace(
            go.Bar(
                name=LEGEND[kind],
                y=[b.row for b in mine],
                x=[max(b.end_ms - b.start_ms, 1.0) for b in mine],
                base=[b.start_ms for b in mine],
                orientation="h",
                marker={
                    "color": color,
                    "pattern": {"shape": ["/" if b.open else "" for b in mine]},
                },
                text=[f"{b.end_ms - b.start_ms:.0f} ms" for b in mine],
                textposition="auto",  # outside when a short stage leaves no room
                cliponaxis=False,
                customdata=[[b.detail or b.row, b.start_ms, b.end_ms] for b in mine],
                hovertemplate="%{customdata[0]}<br>%{customdata[1]:.0f} → "
                "%{customdata[2]:.0f} ms<extra></extra>",
            )
        )
    if marker_ms is not None:
        fig.add_vline(
            x=marker_ms,
            line={"dash": "dash", "width": 1, "color": "#E45756"},
            annotation_text=f"{marker_label} · {marker_ms:.0f} ms",
            annotation_position="top",
        )
    fig.update_layout(
        title=title or None,
        barmode="overlay",
        height=height or max(220, 38 * len(rows) + 90),
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        xaxis_title="ms after the user stopped speaking",
        yaxis={"categoryorder": "array", "categoryarray": rows, "autorange": "reversed"},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


# ---- analytics ---------------------------------------------------------------------------

STAGE_LABELS: Final = {
    "endpointing": "end of turn → committed",
    "model_ttft": "model: first token",
    "chunking": "chunking: first piece",
    "avatar_latency": "avatar: first word",
    "transcription": "transcription",
    "e2e": "end to end",
}
SVG_POINTS_MAX: Final = 5000
TARGET_BANDS: Final = ((0, 1000, "#54A24B", "< 1 s"), (1000, 2000, "#F2C98B", "1–2 s"))


def e2e_per_turn(turns: pd.DataFrame) -> go.Figure:
    """End to end per turn, in time order, with the 1 s and 2 s target bands."""
    data = turns.dropna(subset=["e2e_ms"]).sort_values("speech_end_at")
    fig = go.Figure()
    for lo, hi, color, label in TARGET_BANDS:
        fig.add_hrect(
            y0=lo,
            y1=hi,
            fillcolor=color,
            opacity=0.12,
            line_width=0,
            annotation_text=label,
            annotation_position="top left",
        )
    # WebGL only where SVG would crawl: thousands of points.
    scatter = go.Scattergl if len(data) > SVG_POINTS_MAX else go.Scatter
    for config, group in data.groupby("config", sort=True):
        fig.add_trace(
            scatter(
                x=pd.to_datetime(group["speech_end_at"], unit="s"),
                y=group["e2e_ms"],
                mode="markers",
                name=f"{config}{' (simulated)' if group['simulated'].any() else ''}",
                marker={"size": 5, "opacity": 0.7},
            )
        )
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title="user speech end → avatar starts (ms)",
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def ecdf_figure(turns: pd.DataFrame, column: str = "e2e_ms") -> go.Figure:
    data = turns.dropna(subset=[column])
    fig = px.ecdf(data, x=column, color="config")
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_title="end to end (ms)",
        yaxis_title="share of turns",
        legend={"orientation": "h", "y": -0.25, "title": None},
    )
    return fig


def strategy_figure(
    by_config: pd.DataFrame, stages: tuple[str, ...] = ("chunking", "e2e")
) -> go.Figure:
    """Median per configuration with the p25–p75 spread, and n on each bar."""
    fig = go.Figure()
    for stage in stages:
        rows = by_config[by_config["stage"] == stage]
        fig.add_trace(
            go.Bar(
                name=STAGE_LABELS.get(stage, stage),
                x=rows["config"],
                y=rows["median_ms"],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rows["p75_ms"] - rows["median_ms"],
                    "arrayminus": rows["median_ms"] - rows["p25_ms"],
                },
                text=[f"n={n}" for n in rows["n"]],
                textposition="outside",
            )
        )
    fig.update_layout(
        barmode="group",
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title="median ms (bars: p25–p75)",
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


def session_waterfall(turns: pd.DataFrame) -> go.Figure:
    """One row per turn of a session: the critical-path stages stacked, from speech end."""
    from lib.latency import CRITICAL

    data = turns.sort_values("seq")
    rows = [f"turn {s} ({st})" for s, st in zip(data["seq"], data["status"], strict=True)]
    fig = go.Figure()
    colors = ("#9ecae9", "#4C78A8", "#F58518", "#54A24B")
    for stage, color in zip(CRITICAL, colors, strict=True):
        col = f"{stage}_ms"
        fig.add_trace(
            go.Bar(
                name=STAGE_LABELS[stage],
                y=rows,
                x=data[col].fillna(0),
                orientation="h",
                marker_color=color,
                hovertemplate="%{y}: %{x:.0f} ms<extra>" + STAGE_LABELS[stage] + "</extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        height=max(240, 30 * len(rows) + 100),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_title="ms after the user stopped speaking",
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


COMPONENT_LABELS: Final = {
    "avatar": "avatar streaming",
    "model_audio_in": "model: audio in",
    "model_text_in": "model: text in",
    "model_cached_in": "model: cached in",
    "model_text_out": "model: text out",
    "model_audio_out": "model: audio out",
    "transcription": "transcription",
}


def cost_stack(costs: pd.DataFrame) -> go.Figure:
    data = costs.sort_values("started")
    x = [
        f"{t:%m-%d %H:%M} · {c[:6]}"
        for t, c in zip(data["started"], data["conversation_id"], strict=True)
    ]
    fig = go.Figure()
    for comp, label in COMPONENT_LABELS.items():
        if comp in data and data[comp].sum() > 0:
            fig.add_trace(go.Bar(name=label, x=x, y=data[comp]))
    fig.update_layout(
        barmode="stack",
        height=360,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title="USD per session",
        legend={"orientation": "h", "y": -0.35},
    )
    return fig


def minutes_over_time(costs: pd.DataFrame) -> go.Figure:
    daily = (
        costs.assign(day=costs["started"].dt.date)
        .groupby(["day", "avatar_provider"], as_index=False)["avatar_minutes"]
        .sum()
    )
    fig = px.bar(daily, x="day", y="avatar_minutes", color="avatar_provider")
    fig.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title="avatar streaming minutes",
        xaxis_title=None,
        legend={"orientation": "h", "y": -0.3, "title": None},
    )
    return fig


def cost_vs_latency(costs: pd.DataFrame) -> go.Figure:
    per = costs.groupby("config", as_index=False).agg(
        usd=("total_usd", "sum"),
        minutes=("minutes", "sum"),
        e2e=("e2e_median_ms", "median"),
        sessions=("conversation_id", "count"),
    )
    per = per[per["minutes"] > 0]
    per["usd_per_min"] = per["usd"] / per["minutes"]
    fig = px.scatter(
        per,
        x="e2e",
        y="usd_per_min",
        color="config",
        size="sessions",
        text="config",
        hover_data={"sessions": True},
    )
    fig.update_traces(textposition="top center")
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_title="median end to end (ms)",
        yaxis_title="USD per minute",
        showlegend=False,
    )
    return fig
