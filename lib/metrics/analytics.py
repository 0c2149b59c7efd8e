"""Data preparation for the Latency, Costs and Sessions pages (and `python -m lib report`).

Everything is read from the store once, filtered in SQL (`lib.store.queries`), and derived
vectorized: stage durations from stamps (`lib.metrics.latency`), percentiles with their n
(hidden when n is too small to quote), and cost per session from recorded usage and streaming
time (`lib.metrics.pricing.cost`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from lib.core.config import PROVIDERS
from lib.metrics.latency import INTERVALS, STAGES, durations_frame
from lib.metrics.pricing.cost import (
    AVATAR_KEY_OF,
    Tokens,
    allocate,
    session_cost,
    token_cost,
    tokens_of,
)
from lib.metrics.pricing.tables import PricingTable, table_in_effect
from lib.store.database import Store
from lib.store.queries import (
    Filters,
    avatar_spans,
    avatar_startup_ms,
    brain_event_payloads,
    conversations,
    turns_with_config,
)

# The smallest n at which a percentile is worth quoting (p99 of 10 samples is the maximum).
MIN_N: Final = {"p50": 1, "p90": 10, "p95": 20, "p99": 100}
STAGE_NAMES: Final = tuple(i.name for i in INTERVALS)
TRANSCRIPT_KIND: Final = "conversation.item.input_audio_transcription.completed"
COST_COMPONENTS: Final = (
    "model_text_in",
    "model_cached_in",
    "model_audio_in",
    "model_text_out",
    "model_audio_out",
    "transcription",
    "avatar",
)


def turns_frame(store: Store, filters: Filters | None = None) -> pd.DataFrame:
    """Turns with their conversation's configuration and every derived stage (ms)."""
    turns = turns_with_config(store, filters)
    if turns.empty:
        empty = {f"{n}_ms": pd.Series(dtype=float) for n in STAGE_NAMES}
        return turns.assign(**empty, config=pd.Series(dtype=str), simulated=pd.Series(dtype=bool))
    derived = durations_frame(turns).add_suffix("_ms")
    out = pd.concat([turns, derived], axis=1)
    out["config"] = out["bridge"].astype(str) + " · " + out["chunking"].fillna("").astype(str)
    out["simulated"] = out["timing"] == "simulated"
    return out


def percentiles(turns: pd.DataFrame, stages: tuple[str, ...] = STAGE_NAMES) -> pd.DataFrame:
    """p50/p90/p95/p99 per stage with n; a percentile is NaN where n is below MIN_N."""
    rows = []
    for stage in stages:
        col = f"{stage}_ms"
        values = turns[col].dropna().to_numpy() if col in turns else np.array([])
        row: dict[str, Any] = {"stage": stage, "n": int(values.size)}
        for name, q in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
            ok = values.size >= MIN_N[name]
            row[name] = float(np.percentile(values, q)) if ok and values.size else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def by_config(turns: pd.DataFrame, stages: tuple[str, ...]) -> pd.DataFrame:
    """Median and spread (p25–p75) per configuration and stage, with n."""
    columns = ["config", "stage", "n", "median_ms", "p25_ms", "p75_ms", "simulated"]
    if turns.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for config, group in turns.groupby("config", sort=True):
        for stage in stages:
            values = group[f"{stage}_ms"].dropna()
            if values.empty:
                continue
            rows.append(
                {
                    "config": config,
                    "stage": stage,
                    "n": len(values),
                    "median_ms": float(values.median()),
                    "p25_ms": float(values.quantile(0.25)),
                    "p75_ms": float(values.quantile(0.75)),
                    "simulated": bool(group["simulated"].any()),
                }
            )
    return pd.DataFrame(rows, columns=columns)


# ---- cost --------------------------------------------------------------------------------


def _usages(turns: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for conv, raw in zip(turns["conversation_id"], turns["usage"], strict=True):
        if isinstance(raw, str) and raw:
            try:
                by_response = json.loads(raw)
            except ValueError:
                continue
            out[conv].extend(u for u in by_response.values() if isinstance(u, dict))
    return out


def session_costs(
    store: Store,
    tables: dict[str, PricingTable],
    *,
    pricing: str | None = None,
    local_as: str = "heygen",
    filters: Filters | None = None,
    turns: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per conversation: minutes, turns, cost by component (USD), $/min. `pricing`:
    a table name, or None for the table in effect on each session's day. The embedded
    providers are priced as what the same usage would cost: the avatar as `local_as`, the
    model as OpenAI (its usage follows OpenAI's accounting)."""
    convs = conversations(store, filters)
    if convs.empty:
        return pd.DataFrame(columns=["conversation_id", *COST_COMPONENTS, "total_usd"])
    if turns is None:
        turns = turns_frame(store, filters)
    usages = _usages(turns) if not turns.empty else {}
    avatars = avatar_spans(store, tuple(convs["id"]))
    seconds: dict[str, list[float]] = defaultdict(list)
    for conv, start, stop in avatars.itertuples(index=False):
        if stop == stop and stop is not None:  # a live session has no cost yet
            seconds[conv].append(max(0.0, float(stop) - float(start)))
    brain_ids = {b: c for c, b in zip(convs["id"], convs["brain_session_id"], strict=True) if b}
    heard: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if brain_ids:
        events = brain_event_payloads(store, TRANSCRIPT_KIND, tuple(brain_ids))
        for sid, payload in events.itertuples(index=False):
            usage = json.loads(payload or "{}").get("usage")
            if usage:
                heard[brain_ids[sid]].append(usage)
    turn_counts = turns.groupby("conversation_id").size() if not turns.empty else pd.Series()
    e2e = turns.groupby("conversation_id")["e2e_ms"].median() if not turns.empty else pd.Series()
    rows = []
    for conv in convs.to_dict("records"):
        cid = conv["id"]
        config = json.loads(conv.get("config") or "{}")
        table = tables[pricing] if pricing else table_in_effect(tables, conv["requested_at"])
        listen = conv["bridge"] == "listen"
        model = config.get("text_model" if listen else "model") or "gpt-realtime"
        provider = conv.get("avatar_provider") or "local"
        key = AVATAR_KEY_OF.get(local_as if provider == "local" else provider, provider)
        end = conv.get("stopped_at")
        minutes = (end - conv["requested_at"]) / 60 if end == end and end is not None else 0.0
        cost = session_cost(
            table,
            responses=usages.get(cid, []),
            transcriptions=heard.get(cid, []),
            avatar_seconds=seconds.get(cid, []),
            avatar_key=key,
            model=model,
            transcription_model=None if listen else config.get("transcription_model"),
            minutes=minutes,
        )
        row = {
            "conversation_id": cid,
            "started": pd.to_datetime(conv["requested_at"], unit="s", utc=True),
            "avatar_provider": provider,
            "brain_provider": conv.get("brain_provider"),
            "bridge": conv["bridge"],
            "chunking": conv.get("chunking"),
            "experiment_id": conv.get("experiment_id"),
            "created_by": conv.get("created_by"),
            "timing": conv.get("timing"),
            "status": conv.get("status"),
            "minutes": minutes,
            "avatar_minutes": sum(seconds.get(cid, [])) / 60,
            "turns": int(turn_counts.get(cid, 0)),
            "e2e_median_ms": float(e2e.get(cid, np.nan)),
            "pricing": table.name,
            "estimated": _embedded(provider) or conv.get("brain_provider") == "local",
            **{c: cost.components.get(c, 0.0) for c in COST_COMPONENTS},
            "total_usd": cost.total,
            "usd_per_min": cost.per_minute,
            "notes": "; ".join(
                [*cost.notes, CONNECTOR_NOTE] if conv["bridge"] == "connector" else cost.notes
            ),
        }
        rows.append(row)
    out = pd.DataFrame(rows)
    out["config"] = out["bridge"].astype(str) + " · " + out["chunking"].fillna("").astype(str)
    return out


def kpis(turns: pd.DataFrame, costs: pd.DataFrame, startup_ms: pd.Series) -> dict[str, Any]:
    e2e = turns["e2e_ms"].dropna() if "e2e_ms" in turns else pd.Series(dtype=float)
    answered = (
        turns[turns["status"].isin(["done", "interrupted", "error"])] if len(turns) else turns
    )
    minutes = float(costs["minutes"].sum()) if len(costs) else 0.0
    return {
        "sessions": int(turns["conversation_id"].nunique()) if len(turns) else 0,
        "turns": len(turns),
        "e2e_p50_ms": float(e2e.median()) if len(e2e) else None,
        "e2e_p90_ms": float(e2e.quantile(0.9)) if len(e2e) >= MIN_N["p90"] else None,
        "e2e_n": len(e2e),
        "interruption_rate": float((answered["status"] == "interrupted").mean())
        if len(answered)
        else None,
        "avatar_startup_p50_ms": float(startup_ms.median()) if len(startup_ms) else None,
        "usd_per_min": float(costs["total_usd"].sum()) / minutes if minutes > 0 else None,
        "simulated_share": float(turns["simulated"].mean()) if len(turns) else 0.0,
    }


@dataclass(frozen=True)
class LatencyData:
    turns: pd.DataFrame
    percentiles: pd.DataFrame
    by_config: pd.DataFrame
    costs: pd.DataFrame
    kpis: dict[str, Any]


def latency_page_data(
    store: Store, tables: dict[str, PricingTable], filters: Filters | None = None
) -> LatencyData:
    """Everything the Latency page draws, in one pass (what `bench analytics` times)."""
    turns = turns_frame(store, filters)
    costs = session_costs(store, tables, filters=filters, turns=turns)
    startup = avatar_startup_ms(store, filters)
    return LatencyData(
        turns=turns,
        percentiles=percentiles(turns),
        by_config=by_config(turns, ("e2e", "chunking", "model_ttft", "avatar_latency")),
        costs=costs,
        kpis=kpis(turns, costs, startup),
    )


def turn_costs(
    store: Store,
    tables: dict[str, PricingTable],
    conversation_id: str,
    *,
    pricing: str | None = None,
    local_as: str = "heygen",
) -> pd.DataFrame:
    """Cost per turn of one conversation: the model's own usage of each turn, plus the
    session's avatar streaming cost allocated by how long each turn lasted."""
    only = Filters(conversation=conversation_id)
    turns = turns_frame(store, only)
    costs = session_costs(
        store, tables, pricing=pricing, local_as=local_as, filters=only, turns=turns
    )
    if turns.empty or costs.empty:
        return pd.DataFrame(columns=["seq", "model_usd", "avatar_usd", "total_usd"])
    conv = store.get("conversations", conversation_id) or {}
    config = json.loads(conv.get("config") or "{}")
    table = tables[pricing] if pricing else table_in_effect(tables, conv.get("requested_at"))
    model = config.get("text_model" if conv.get("bridge") == "listen" else "model", "gpt-realtime")
    prices = table.realtime.get(model) or table.text.get(model)
    model_usd = []
    for raw in turns["usage"]:
        usages = list(json.loads(raw).values()) if isinstance(raw, str) and raw else []
        tokens = sum((tokens_of(u) for u in usages), Tokens())
        model_usd.append(sum(token_cost(tokens, prices).values()) if prices else 0.0)
    stamped = turns[[c for c in (*STAGES, "interrupted_at") if c in turns]]
    first, last = stamped.min(axis=1), stamped.max(axis=1)
    spans = (last - first).fillna(0).clip(lower=0).tolist()
    avatar = allocate(float(costs["avatar"].iloc[0]), spans)
    out = pd.DataFrame(
        {"seq": turns["seq"].to_numpy(), "model_usd": model_usd, "avatar_usd": avatar}
    )
    out["total_usd"] = out["model_usd"] + out["avatar_usd"]
    return out


CONNECTOR_NOTE = (
    "the voice model ran inside LiveAvatar's connector on your OpenAI account: its usage is "
    "billed there and not counted here"
)


def _embedded(provider: str) -> bool:
    """Shown on the embedded server: its cost is what the service would have charged."""
    spec = PROVIDERS.get(provider)
    return spec is None or spec.embedded
