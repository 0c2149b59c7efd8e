"""What if: other chunk strategies tried on an experiment's recorded answers, beside the
strategies it measured (`lib.runtime.whatif`)."""

from __future__ import annotations

from typing import Final

import streamlit as st

from lib.bridge.chunking import DEFAULT_STRATEGIES, StrategyError, parse_strategies
from lib.bridge.config import BridgeMode
from lib.runtime.whatif import METRICS, recorded_turns, what_if, what_if_frame
from lib.store.database import Store
from lib.ui.charts import whatif_figure
from lib.ui.plain_text import plain

METRIC_LABELS: Final = {
    "e2e_ms": "end to end, median (ms)",
    "first_piece_ms": "first delta → first piece ready, median (ms)",
    "chunks_per_turn": "pieces per turn (mean)",
    "model_ms": "speech end → first delta, median (ms; no strategy's doing)",
}


def whatif_panel(store: Store, experiment_id: str) -> None:
    with st.expander("What if: other chunk strategies, replayed on these answers"):
        turns = recorded_turns(store, experiment_id)
        modes: list[BridgeMode] = [
            m for m in ("text", "listen") if any(t.bridge == m and t.answer for t in turns)
        ]
        if not modes:
            st.info(
                "Nothing to replay: no answered turn of this experiment has its text deltas "
                "recorded in text or listen mode (run a sweep with the text bridge)."
            )
            return
        bridge = modes[0] if len(modes) == 1 else st.radio("Bridge", modes, horizontal=True)
        ran = sorted({t.label.removeprefix("listen/") for t in turns if t.bridge == bridge})
        options = list(dict.fromkeys([*ran, *DEFAULT_STRATEGIES]))
        chosen = st.multiselect(
            "Strategies", options, default=[*ran, *[s for s in ("clause:12",) if s not in ran]]
        )
        extra = st.text_input(
            "More strategies (comma separated)",
            placeholder="sentence:40+wait:700, chars:30",
            key="whatif-extra",
        )
        try:
            strategies = parse_strategies(",".join([*chosen, extra]))
        except StrategyError as exc:
            st.error(plain(exc))
            return
        results = what_if(turns, strategies, bridge)
        table = what_if_frame(results)
        metric = st.radio(
            "Figure",
            METRICS,
            format_func=METRIC_LABELS.__getitem__,
            horizontal=True,
            key="whatif-metric",
        )
        st.plotly_chart(
            whatif_figure(table, metric, METRIC_LABELS[metric]), key="experiment-whatif"
        )
        shown = table.assign(metric=table["metric"].map(METRIC_LABELS))
        st.dataframe(
            shown,
            hide_index=True,
            column_config={"error_rel": st.column_config.NumberColumn(format="percent")},
        )
        # The line from every turn (a strategy the experiment ran is refitted without its own).
        full = next((r for r in results if r.measured is None), results[0])
        fits = "; ".join(f"{k}: {v.describe()}" for k, v in sorted(full.avatar.items()))
        st.caption(
            "Each answer's recorded text deltas are fed to the strategy's chunker at their "
            "recorded times; a strategy this experiment ran is predicted only from its other "
            "configurations' turns (the avatar line too), so the error beside it is honest. "
            "End to end = the turn's own speech end → first delta + the replayed first piece + "
            "the avatar side, "
            + plain(fits or "not fitted (no turn with a piece and an avatar start)")
        )
