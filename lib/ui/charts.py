"""Plotly figures shared by the pages (one look for the same data everywhere)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any, Final

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from lib.metrics.latency import Bar, interval_label

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


def _tick_step(span_ms: float, most: int = 6) -> float:
    for step in (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 30_000):
        if span_ms / step <= most:
            return float(step)
    return 60_000.0


def waterfall_html(
    bars: Sequence[Bar],
    title: str = "",
    marker_ms: float | None = None,
    marker_label: str = "avatar starts talking",
) -> str:
    """The live turn's waterfall as plain HTML: bars from the turn's origin (user speech end),
    in milliseconds, and an optional dashed line at `marker_ms` (the end-to-end latency).

    The Conversation page redraws it twice a second while a turn runs; a plotly chart redrawn
    that often costs the browser far more than these few dozen elements. Same colours and
    legend as the analytics charts.
    """
    rows: list[str] = []
    for b in bars:
        if b.row not in rows:
            rows.append(b.row)
    span = max([100.0, *(b.end_ms for b in bars), *([marker_ms] if marker_ms else [])]) * 1.08
    step = _tick_step(span)

    def pct(ms: float) -> str:
        return f"{min(100.0, max(0.0, ms / span * 100)):.2f}%"

    label_w = "36%"
    lines = [
        '<div style="font-size:0.8rem;line-height:1.25;margin:0.25rem 0 0.5rem 0">',
    ]
    if title:
        lines.append(f'<div style="font-weight:600;margin-bottom:0.35rem">{escape(title)}</div>')
    lines.append('<div style="position:relative">')
    for row in rows:
        lines.append('<div style="display:flex;align-items:center;height:1.45rem">')
        lines.append(
            f'<div title="{escape(row)}" style="width:{label_w};flex:none;overflow:hidden;'
            'white-space:nowrap;text-overflow:ellipsis;padding-right:0.5rem;opacity:0.85">'
            f"{escape(row)}</div>"
        )
        lines.append('<div style="position:relative;flex:1;height:100%">')
        for b in (b for b in bars if b.row == row):
            color = COLORS.get(b.kind, COLORS["stage"])
            fill = (
                f"repeating-linear-gradient(135deg,{color} 0 6px,{color}99 6px 10px)"
                if b.open
                else color
            )
            ms = b.end_ms - b.start_ms
            tip = f"{b.detail or b.row}: {b.start_ms:.0f} → {b.end_ms:.0f} ms"
            lines.append(
                f'<div class="wf-bar" data-kind="{b.kind}" data-open="{int(b.open)}" '
                f'title="{escape(tip)}" style="position:absolute;top:0.2rem;bottom:0.2rem;'
                f"left:{pct(b.start_ms)};width:max(2px,{pct(ms)});background:{fill};"
                'border-radius:2px"></div>'
            )
        last = [b for b in bars if b.row == row][-1]  # a piece: spoken, else queued
        lines.append(
            f'<div style="position:absolute;left:calc({pct(last.end_ms)} + 4px);top:0.2rem;'
            f'white-space:nowrap;font-size:0.72rem;opacity:0.8">'
            f"{last.end_ms - last.start_ms:.0f} ms</div>"
        )
        lines.append("</div></div>")
    # Axis and marker sit over the bar area (right of the labels).
    lines.append(
        f'<div style="position:absolute;left:{label_w};right:0;top:0;bottom:0;pointer-events:none">'
    )
    tick = step
    while tick < span:
        lines.append(
            f'<div style="position:absolute;left:{pct(tick)};top:0;bottom:0;'
            'border-left:1px solid rgba(128,128,128,0.18)"></div>'
        )
        tick += step
    if marker_ms is not None:
        lines.append(
            f'<div class="wf-marker" style="position:absolute;left:{pct(marker_ms)};top:0;'
            'bottom:0;border-left:1px dashed #E45756"></div>'
        )
    lines.append("</div></div>")
    # Tick labels under the bars.
    lines.append(f'<div style="position:relative;height:1rem;margin-left:{label_w}">')
    tick = 0.0
    while tick < span:
        lines.append(
            f'<span style="position:absolute;left:{pct(tick)};transform:translateX(-50%);'
            f'font-size:0.68rem;opacity:0.6">{tick:.0f}</span>'
        )
        tick += step
    lines.append("</div>")
    kinds = [k for k in COLORS if any(b.kind == k for b in bars)]
    legend = " ".join(
        f'<span style="white-space:nowrap;margin-right:0.8rem"><span style="display:inline-block;'
        f"width:0.7rem;height:0.7rem;background:{COLORS[k]};border-radius:2px;"
        f'vertical-align:-1px"></span> {LEGEND[k]}</span>'
        for k in kinds
    )
    if marker_ms is not None:
        legend += (
            '<span style="white-space:nowrap"><span style="display:inline-block;width:0.8rem;'
            'border-top:1px dashed #E45756;vertical-align:middle"></span> '
            f"{escape(marker_label)} · {marker_ms:.0f} ms</span>"
        )
    lines.append(
        '<div style="margin-top:0.3rem;font-size:0.72rem;opacity:0.8">'
        f"ms after the user stopped speaking · {legend}</div>"
    )
    lines.append("</div>")
    return "".join(lines)


# ---- analytics ---------------------------------------------------------------------------

SVG_POINTS_MAX: Final = 5000
MARGIN: Final = {"l": 10, "r": 10, "t": 10, "b": 10}
TARGET_BANDS: Final = ((0, 1000, "#54A24B", "< 1 s"), (1000, 2000, "#F2C98B", "1–2 s"))


def _laid_out(
    fig: go.Figure,
    height: int,
    legend_y: float | None,
    *,
    legend_title: bool = True,
    **layout: Any,
) -> go.Figure:
    """The analytics charts' one look: their height, tight margins, and the legend in a row
    at `legend_y` under the plot (None: wherever `layout` says)."""
    if legend_y is not None:
        legend: dict[str, Any] = {"orientation": "h", "y": legend_y}
        if not legend_title:
            legend["title"] = None
        layout["legend"] = legend
    fig.update_layout(height=height, margin=MARGIN, **layout)
    return fig


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
    return _laid_out(fig, 320, -0.25, yaxis_title="user speech end → avatar starts (ms)")


def ecdf_figure(turns: pd.DataFrame, column: str = "e2e_ms") -> go.Figure:
    data = turns.dropna(subset=[column])
    fig = px.ecdf(data, x=column, color="config")
    return _laid_out(
        fig,
        320,
        -0.25,
        legend_title=False,
        xaxis_title="end to end (ms)",
        yaxis_title="share of turns",
    )


def strategy_figure(
    by_config: pd.DataFrame,
    stages: tuple[str, ...] = ("chunking", "e2e"),
    spread: tuple[str, str] = ("p25_ms", "p75_ms"),
    spread_label: str = "p25–p75",
) -> go.Figure:
    """Median per configuration with a bar from the `spread` columns (the p25–p75 spread, or
    the median's confidence interval), and n on each bar."""
    lo, hi = spread
    fig = go.Figure()
    for stage in stages:
        rows = by_config[by_config["stage"] == stage]
        fig.add_trace(
            go.Bar(
                name=interval_label(stage),
                x=rows["config"],
                y=rows["median_ms"],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rows[hi] - rows["median_ms"],
                    "arrayminus": rows["median_ms"] - rows[lo],
                },
                text=[f"n={n}" for n in rows["n"]],
                textposition="outside",
            )
        )
    return _laid_out(
        fig, 340, -0.3, barmode="group", yaxis_title=f"median ms (bars: {spread_label})"
    )


def whatif_figure(table: pd.DataFrame, metric: str, label: str) -> go.Figure:
    """Predicted beside measured per configuration, for one metric of the what-if table."""
    rows = table[table["metric"] == metric]
    fig = go.Figure()
    for column, name, n in (
        ("predicted", "predicted (replay)", "n_predicted"),
        ("measured", "measured", "n_measured"),
    ):
        fig.add_trace(
            go.Bar(
                name=name,
                x=rows["config"],
                y=rows[column],
                text=[f"n={k}" if k else "" for k in rows[n]],
                textposition="outside",
            )
        )
    return _laid_out(fig, 320, -0.3, barmode="group", yaxis_title=label)


def session_waterfall(turns: pd.DataFrame) -> go.Figure:
    """One row per turn of a session: the critical-path stages stacked, from speech end."""
    from lib.metrics.latency import CRITICAL

    data = turns.sort_values("seq")
    rows = [f"turn {s} ({st})" for s, st in zip(data["seq"], data["status"], strict=True)]
    fig = go.Figure()
    colors = ("#9ecae9", "#4C78A8", "#F58518", "#54A24B")
    for stage, color in zip(CRITICAL, colors, strict=True):
        col = f"{stage}_ms"
        fig.add_trace(
            go.Bar(
                name=interval_label(stage),
                y=rows,
                x=data[col].fillna(0),
                orientation="h",
                marker_color=color,
                hovertemplate="%{y}: %{x:.0f} ms<extra>" + interval_label(stage) + "</extra>",
            )
        )
    return _laid_out(
        fig,
        max(240, 30 * len(rows) + 100),
        -0.2,
        barmode="stack",
        xaxis_title="ms after the user stopped speaking",
        yaxis={"autorange": "reversed"},
    )


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
    return _laid_out(fig, 360, -0.35, barmode="stack", yaxis_title="USD per session")


def minutes_over_time(costs: pd.DataFrame) -> go.Figure:
    daily = (
        costs.assign(day=costs["started"].dt.date)
        .groupby(["day", "avatar_provider"], as_index=False)["avatar_minutes"]
        .sum()
    )
    fig = px.bar(daily, x="day", y="avatar_minutes", color="avatar_provider")
    return _laid_out(
        fig,
        300,
        -0.3,
        legend_title=False,
        yaxis_title="avatar streaming minutes",
        xaxis_title=None,
    )


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
    return _laid_out(
        fig,
        340,
        None,
        xaxis_title="median end to end (ms)",
        yaxis_title="USD per minute",
        showlegend=False,
    )
