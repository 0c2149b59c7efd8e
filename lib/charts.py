"""Plotly figures shared by the pages (one look for the same data everywhere)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

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
