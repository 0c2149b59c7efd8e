"""What-if: what another chunk strategy would have given on an experiment's recorded turns.

Each answered turn's text deltas (`brain_events`, at their recorded times) are replayed
through the strategy's chunker (`lib.bridge.replay`): first delta → first piece ready, and
pieces per turn. End to end adds the turn's own recorded model side (speech end → first
delta) and the avatar side from `lib.metrics.avatar_model`, fitted on the recorded turns.

The prediction for a strategy the experiment also ran is made only from the turns of its
other configurations (leave-it-out), the avatar line included, so its error is honest.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from lib.bridge.chunking import Strategy
from lib.bridge.config import BridgeConfig, BridgeMode
from lib.bridge.replay import RecordedAnswer, first_piece_delay_ms, replay
from lib.metrics.avatar_model import AvatarModel, fit_avatar
from lib.metrics.latency import median_of
from lib.store.database import Store
from lib.store.queries import experiments, replay_turns, response_events

TEXT_DELTAS: Final = ("response.output_text.delta", "response.output_audio_transcript.delta")
TEXT_DONE: Final = ("response.output_text.done", "response.output_audio_transcript.done")
METRICS: Final = ("e2e_ms", "first_piece_ms", "chunks_per_turn", "model_ms")


class ReplayError(ValueError):
    """An experiment that cannot be replayed; the message says what to do instead."""


def _num(value: Any) -> float | None:
    return None if value is None or value != value else float(value)


@dataclass(frozen=True)
class RecordedTurn:
    label: str  # its conversation's configuration: "whole", "listen/sentence:20", ...
    bridge: str
    avatar: str
    answer: RecordedAnswer | None  # None: no text deltas recorded for it
    speech_end_at: float | None
    first_delta_at: float | None
    first_ready_at: float | None
    first_chars: float | None
    pieces: float | None
    avatar_start_at: float | None

    @staticmethod
    def _ms(a: float | None, b: float | None) -> float | None:
        return (b - a) * 1000 if a is not None and b is not None else None

    @property
    def e2e_ms(self) -> float | None:
        return self._ms(self.speech_end_at, self.avatar_start_at)

    @property
    def first_piece_ms(self) -> float | None:
        return self._ms(self.first_delta_at, self.first_ready_at)

    @property
    def avatar_ms(self) -> float | None:
        return self._ms(self.first_ready_at, self.avatar_start_at)

    @property
    def model_ms(self) -> float | None:
        """Speech end → first delta: the part of end to end no chunk strategy changes."""
        return self._ms(self.speech_end_at, self.first_delta_at)


def find_experiment(store: Store, wanted: str) -> dict[str, Any]:
    """The experiment whose id is `wanted` or starts with it (the pages show 8 characters)."""
    recorded = experiments(store)
    rows = [r for r in recorded.to_dict("records") if str(r["id"]).startswith(wanted.strip())]
    known = ", ".join(
        f"{str(r['id'])[:8]} ({r['name']})" for r in recorded.head(5).to_dict("records")
    )
    if not wanted.strip() or not rows:
        hint = f"recent ones: {known}" if known else "run `python -m lib sweep` first"
        raise ReplayError(f"no experiment {wanted!r} in the store; {hint}")
    if len(rows) > 1:
        raise ReplayError(f"{wanted!r} matches {len(rows)} experiments; give more of the id")
    return {str(k): v for k, v in rows[0].items()}


def _answers(store: Store, session_ids: Sequence[str]) -> dict[str, RecordedAnswer]:
    events = response_events(store, session_ids, (*TEXT_DELTAS, *TEXT_DONE))
    deltas: dict[str, list[tuple[float, str]]] = defaultdict(list)
    done: dict[str, float] = {}
    for rid, kind, at, payload in events.itertuples(index=False):
        if kind in TEXT_DONE:
            done.setdefault(str(rid), float(at))
        else:
            deltas[str(rid)].append((float(at), str(json.loads(payload or "{}").get("delta", ""))))
    return {rid: RecordedAnswer(tuple(d), done.get(rid)) for rid, d in deltas.items() if d}


def recorded_turns(store: Store, experiment_id: str) -> list[RecordedTurn]:
    """The experiment's answered user turns, with their recorded answers where there are any."""
    rows = replay_turns(store, experiment_id)
    sessions = sorted({str(s) for s in rows["brain_session_id"].dropna()})
    answers = _answers(store, sessions) if sessions else {}
    return [
        RecordedTurn(
            label=str(r["chunking"] or ""),
            bridge=str(r["bridge"]),
            avatar=str(r["avatar_provider"] or ""),
            answer=answers.get(str(r["response_id"])),
            speech_end_at=_num(r["speech_end_at"]),
            first_delta_at=_num(r["first_delta_at"]),
            first_ready_at=_num(r["first_ready_at"]),
            first_chars=_num(r["first_chars"]),
            pieces=_num(r["chunks"]),
            avatar_start_at=_num(r["avatar_start_at"]),
        )
        for r in rows.to_dict("records")
    ]


@dataclass(frozen=True)
class TurnFigures:
    e2e_ms: float | None
    first_piece_ms: float | None
    chunks: float | None
    model_ms: float | None


@dataclass(frozen=True)
class Figures:
    turns: int
    e2e_ms: float | None  # median
    first_piece_ms: float | None  # median, first delta → first piece ready
    chunks_per_turn: float | None  # mean
    model_ms: float | None  # median, speech end → first delta (no strategy's doing)

    def value(self, metric: str) -> float | None:
        return float(getattr(self, metric)) if getattr(self, metric) is not None else None


def figures(rows: Sequence[TurnFigures]) -> Figures:
    def med(xs: Sequence[float | None]) -> float | None:
        return median_of([x for x in xs if x is not None])

    chunks = [r.chunks for r in rows if r.chunks is not None]
    return Figures(
        turns=len(rows),
        e2e_ms=med([r.e2e_ms for r in rows]),
        first_piece_ms=med([r.first_piece_ms for r in rows]),
        chunks_per_turn=round(sum(chunks) / len(chunks), 2) if chunks else None,
        model_ms=med([r.model_ms for r in rows]),
    )


@dataclass(frozen=True)
class WhatIf:
    strategy: str
    label: str  # the configuration it would be ("sentence:20", "listen/sentence:20")
    predicted: Figures | None
    measured: Figures | None
    sources: tuple[str, ...]  # the configurations whose turns it was predicted from
    avatar: dict[str, AvatarModel]

    def error(self, metric: str) -> dict[str, float | None] | None:
        """Predicted − measured, and that over measured."""
        if self.predicted is None or self.measured is None:
            return None
        p, m = self.predicted.value(metric), self.measured.value(metric)
        if p is None or m is None:
            return None
        return {"abs": round(p - m, 1), "rel": round((p - m) / m, 3) if m else None}

    def as_json(self) -> dict[str, Any]:
        def plain(f: Figures | None) -> dict[str, Any] | None:
            return None if f is None else f.__dict__.copy()

        return {
            "strategy": self.strategy,
            "config": self.label,
            "predicted": plain(self.predicted),
            "measured": plain(self.measured),
            "error": {m: self.error(m) for m in METRICS} if self.measured else None,
            "predicted_from": list(self.sources),
            "avatar_model": {k: v.describe() for k, v in self.avatar.items()},
        }


def _avatar_models(turns: Sequence[RecordedTurn]) -> dict[str, AvatarModel]:
    by: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for t in turns:
        if t.first_chars is not None and t.avatar_ms is not None:
            by[t.avatar].append((t.first_chars, t.avatar_ms))
    return {k: fit_avatar([c for c, _ in v], [d for _, d in v]) for k, v in by.items() if v}


def what_if(
    turns: Sequence[RecordedTurn], strategies: Sequence[Strategy], bridge: BridgeMode = "text"
) -> list[WhatIf]:
    """Per strategy: predicted figures from the other configurations' turns in `bridge` mode,
    and the measured ones where the experiment ran it."""
    out = []
    same_mode = [t for t in turns if t.bridge == bridge]
    for strategy in strategies:
        label = BridgeConfig(mode=bridge, chunking=strategy.name).label
        others = [t for t in same_mode if t.label != label]
        models = _avatar_models(others)
        sources = [t for t in others if t.answer is not None]
        predicted = []
        for t in sources:
            assert t.answer is not None
            cut = replay(t.answer, strategy)
            delay = first_piece_delay_ms(t.answer, cut)
            model = models.get(t.avatar)
            e2e = None
            if delay is not None and model is not None and t.model_ms is not None:
                e2e = t.model_ms + delay + model.predict_ms(len(cut[0].text))
            predicted.append(TurnFigures(e2e, delay, float(len(cut)), t.model_ms))
        own = [
            TurnFigures(t.e2e_ms, t.first_piece_ms, t.pieces, t.model_ms)
            for t in same_mode
            if t.label == label
        ]
        out.append(
            WhatIf(
                strategy=strategy.name,
                label=label,
                predicted=figures(predicted) if predicted else None,
                measured=figures(own) if own else None,
                sources=tuple(sorted({t.label for t in sources})),
                avatar=models,
            )
        )
    return out


def what_if_frame(results: Sequence[WhatIf]) -> pd.DataFrame:
    """One row per strategy and metric: predicted, measured, error (the page's table)."""
    rows = []
    for r in results:
        for metric in METRICS:
            err = r.error(metric)
            rows.append(
                {
                    "config": r.label,
                    "metric": metric,
                    "predicted": r.predicted.value(metric) if r.predicted else None,
                    "measured": r.measured.value(metric) if r.measured else None,
                    "error": err["abs"] if err else None,
                    "error_rel": err["rel"] if err else None,
                    "n_predicted": r.predicted.turns if r.predicted else 0,
                    "n_measured": r.measured.turns if r.measured else 0,
                }
            )
    return pd.DataFrame(rows)
