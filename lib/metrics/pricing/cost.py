"""The cost model, in one place, pure: recorded usage and streaming time → dollars.

* Model: every `response.done` usage priced per 1M tokens (uncached text and audio in, cached
  in, text and audio out), the way OpenAI accrues it per response; input transcription by its
  own usage (seconds, or tokens).
* Avatar: streaming seconds under the provider's rules — a minimum charge, billing increments,
  credits per minute, and the minute LiveAvatar escrows at start — at the table's $ per credit.
* Projection: N minutes a month at a talk ratio → the cheapest plan that fits, its overage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from lib.metrics.pricing.tables import AvatarBilling, Plan, PricingTable, TokenPrices

PER_M: Final = 1_000_000
USER_AUDIO_TOKENS_PER_S: Final = 10  # OpenAI: 1 token per 100 ms of user audio
MODEL_AUDIO_TOKENS_PER_S: Final = 20  # 1 token per 50 ms of assistant audio
SPOKEN_TEXT_TOKENS_PER_MIN: Final = 200  # ~150 words a minute of speech
# Avatar provider → its price row; the embedded LiveAvatar servers are priced as the service.
AVATAR_KEY_OF: Final = {
    "heygen": "heygen",
    "liveavatar": "liveavatar_full",
    "liveavatar-lite": "liveavatar_lite",
    "local": "heygen",
    "local-liveavatar": "liveavatar_full",
    "local-liveavatar-lite": "liveavatar_lite",
}
Output = Literal["text", "audio"]


@dataclass(frozen=True)
class Tokens:
    text_in: int = 0
    text_cached: int = 0
    audio_in: int = 0
    audio_cached: int = 0
    text_out: int = 0
    audio_out: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            self.text_in + other.text_in,
            self.text_cached + other.text_cached,
            self.audio_in + other.audio_in,
            self.audio_cached + other.audio_cached,
            self.text_out + other.text_out,
            self.audio_out + other.audio_out,
        )


def _int(d: Any, *keys: str) -> int:
    for key in keys:
        d = d.get(key) if isinstance(d, dict) else None
    return int(d) if isinstance(d, int | float) else 0


def tokens_of(usage: dict[str, Any] | None) -> Tokens:
    """`response.done` usage (Realtime GA shape; the text model's is mapped to it) → uncached
    and cached input by modality, and output by modality."""
    if not usage:
        return Tokens()
    text, audio = (
        _int(usage, "input_token_details", "text_tokens"),
        _int(usage, "input_token_details", "audio_tokens"),
    )
    cached_text = _int(usage, "input_token_details", "cached_tokens_details", "text_tokens")
    cached_audio = _int(usage, "input_token_details", "cached_tokens_details", "audio_tokens")
    if not (cached_text or cached_audio):  # a plain cached_tokens count: treat it as text
        cached_text = min(text, _int(usage, "input_token_details", "cached_tokens"))
    return Tokens(
        text_in=max(0, text - cached_text),
        text_cached=cached_text,
        audio_in=max(0, audio - cached_audio),
        audio_cached=cached_audio,
        text_out=_int(usage, "output_token_details", "text_tokens"),
        audio_out=_int(usage, "output_token_details", "audio_tokens"),
    )


def token_cost(t: Tokens, p: TokenPrices) -> dict[str, float]:
    return {
        "model_text_in": t.text_in * p.text_in / PER_M,
        "model_cached_in": (t.text_cached * p.text_cached + t.audio_cached * p.audio_cached)
        / PER_M,
        "model_audio_in": t.audio_in * p.audio_in / PER_M,
        "model_text_out": t.text_out * p.text_out / PER_M,
        "model_audio_out": t.audio_out * p.audio_out / PER_M,
    }


def transcription_cost(usage: dict[str, Any] | None, table: PricingTable, model: str) -> float:
    price = table.transcription.get(model)
    if not usage or price is None:
        return 0.0
    if usage.get("type") == "duration":
        return float(usage.get("seconds", 0)) / 60 * price.per_minute
    audio = _int(usage, "input_token_details", "audio_tokens") or _int(usage, "input_tokens")
    out = _int(usage, "output_tokens")
    if price.audio_in is not None:
        return (audio * price.audio_in + out * (price.text_out or 0.0)) / PER_M
    return audio / USER_AUDIO_TOKENS_PER_S / 60 * price.per_minute


@dataclass(frozen=True)
class AvatarCharge:
    seconds: float  # streamed
    billed_seconds: float
    credits: float
    usd: float
    escrow_credits: float  # held at start (LiveAvatar); returned against the first minute


def billed_seconds(seconds: float, rule: AvatarBilling) -> float:
    if seconds <= 0:
        return 0.0
    stepped = math.ceil(seconds / rule.increment_s - 1e-9) * rule.increment_s
    return max(rule.minimum_s, stepped)


def avatar_charge(seconds: float, rule: AvatarBilling) -> AvatarCharge:
    billed = billed_seconds(seconds, rule)
    credits = billed / 60 * rule.credits_per_minute
    return AvatarCharge(
        seconds=seconds,
        billed_seconds=billed,
        credits=credits,
        usd=credits * rule.usd_per_credit,
        escrow_credits=rule.escrow_minutes * rule.credits_per_minute if seconds > 0 else 0.0,
    )


@dataclass
class SessionCost:
    """One conversation (or Studio session), by component, in USD."""

    components: dict[str, float] = field(default_factory=dict)
    minutes: float = 0.0
    avatar: AvatarCharge | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.components.values())

    @property
    def per_minute(self) -> float | None:
        return self.total / self.minutes if self.minutes > 0 else None


def session_cost(
    table: PricingTable,
    *,
    responses: list[dict[str, Any]],
    transcriptions: list[dict[str, Any]],
    avatar_seconds: list[float],
    avatar_key: str | None,
    model: str,
    transcription_model: str | None,
    minutes: float,
) -> SessionCost:
    """Price one session from what was recorded. `avatar_seconds`: each avatar session's
    streaming time (an agent handoff starts a new, separately billed one)."""
    cost = SessionCost(minutes=minutes)
    total = sum((tokens_of(u) for u in responses), Tokens())
    prices = table.realtime.get(model) or table.text.get(model)
    if prices is not None:
        cost.components.update(token_cost(total, prices))
    elif responses:
        cost.notes.append(f"no price for model {model!r} in {table.name}: model cost not counted")
    if transcription_model and transcriptions:
        cost.components["transcription"] = sum(
            transcription_cost(u, table, transcription_model) for u in transcriptions
        )
    rule = table.avatar.get(avatar_key or "")
    if rule is not None and avatar_seconds:
        charges = [avatar_charge(s, rule) for s in avatar_seconds]
        cost.avatar = AvatarCharge(
            seconds=sum(c.seconds for c in charges),
            billed_seconds=sum(c.billed_seconds for c in charges),
            credits=sum(c.credits for c in charges),
            usd=sum(c.usd for c in charges),
            escrow_credits=max((c.escrow_credits for c in charges), default=0.0),
        )
        cost.components["avatar"] = cost.avatar.usd
    elif avatar_seconds and avatar_key:
        cost.notes.append(f"no avatar billing for {avatar_key!r} in {table.name}")
    return cost


def allocate(total_usd: float, spans_s: list[float]) -> list[float]:
    """A session's avatar cost split over its turns by how long each lasted."""
    whole = sum(spans_s)
    if whole <= 0:
        return [total_usd / len(spans_s)] * len(spans_s) if spans_s else []
    return [total_usd * s / whole for s in spans_s]


# ---- monthly projection -----------------------------------------------------------------


@dataclass(frozen=True)
class PlanFit:
    plan: str
    monthly_usd: float | None
    included_credits: float | None
    overage_usd: float
    total_usd: float | None
    fits: bool  # within the plan, or the plan sells overage
    note: str = ""


def plan_fits(plans: list[Plan], credits: float) -> list[PlanFit]:
    out = []
    for p in plans:
        if p.custom or p.monthly_usd is None or p.credits is None:
            out.append(PlanFit(p.name, None, None, 0.0, None, False, "custom pricing"))
            continue
        extra = max(0.0, credits - p.credits)
        if extra > 0 and p.overage_per_credit is None:
            share = p.credits / credits if credits else 1.0
            note = f"covers {share:.0%} of the usage; no overage is sold"
            out.append(PlanFit(p.name, p.monthly_usd, p.credits, 0.0, p.monthly_usd, False, note))
            continue
        overage = extra * (p.overage_per_credit or 0.0)
        out.append(
            PlanFit(p.name, p.monthly_usd, p.credits, overage, p.monthly_usd + overage, True)
        )
    return out


def projection(
    table: PricingTable,
    minutes: float,
    *,
    talk_ratio: float,
    avatar: str = "heygen",
    model: str = "gpt-realtime",
    output: Output = "text",
) -> dict[str, Any]:
    """A month of `minutes` session minutes. `talk_ratio`: the share of each minute with
    speech, counted for the user's audio in and the answer out alike (1.0 is the seed's
    assumption: every minute billed as a full minute each way)."""
    if minutes < 0 or not 0 < talk_ratio <= 1:
        raise ValueError("minutes must be ≥ 0 and the talk ratio in (0, 1]")
    key = AVATAR_KEY_OF.get(avatar, avatar)
    rule = table.avatar.get(key)
    credits = minutes * rule.credits_per_minute if rule else 0.0
    provider = "liveavatar" if key.startswith("liveavatar") else key
    fits = plan_fits(table.plans_for(provider), credits)
    fitting = [f for f in fits if f.fits and f.total_usd is not None]
    chosen = min(fitting, key=lambda f: f.total_usd or 0.0) if fitting else None
    if chosen is None:  # nothing fits: the biggest priced plan is a lower bound
        priced = [f for f in fits if f.total_usd is not None]
        chosen = max(priced, key=lambda f: f.total_usd or 0.0) if priced else None
    avatar_usd = chosen.total_usd if chosen and chosen.total_usd is not None else 0.0
    if chosen is None and rule is not None:
        avatar_usd = credits * rule.usd_per_credit

    speech_min = minutes * talk_ratio
    lines: dict[str, float] = {}
    if table.per_minute is not None:  # the seed's per-audio-minute framing
        lines["model_audio_in"] = speech_min * table.per_minute.audio_in
        if output == "audio":
            lines["model_audio_out"] = speech_min * table.per_minute.audio_out
    else:
        prices = table.realtime.get(model)
        if prices is None:
            raise ValueError(f"{table.name} has no price for {model!r}")
        tokens = Tokens(
            audio_in=int(speech_min * 60 * USER_AUDIO_TOKENS_PER_S),
            audio_out=int(speech_min * 60 * MODEL_AUDIO_TOKENS_PER_S) if output == "audio" else 0,
            text_out=int(speech_min * SPOKEN_TEXT_TOKENS_PER_MIN) if output == "text" else 0,
        )
        lines.update({k: v for k, v in token_cost(tokens, prices).items() if v})
    model_usd = sum(lines.values())
    total = avatar_usd + model_usd
    return {
        "pricing": table.name,
        "pricing_version": table.version,
        "minutes": minutes,
        "talk_ratio": talk_ratio,
        "avatar": avatar,
        "model": model,
        "model_output": output,
        "avatar_credits": round(credits, 2),
        "plan": chosen.plan if chosen else None,
        "plan_fits": bool(chosen and chosen.fits),
        "avatar_usd": round(avatar_usd, 2),
        "model_usd": {k: round(v, 2) for k, v in lines.items()},
        "model_total_usd": round(model_usd, 2),
        "total_usd": round(total, 2),
        "usd_per_minute": round(total / minutes, 4) if minutes else None,
        "plans": [
            {
                "plan": f.plan,
                "monthly_usd": f.monthly_usd,
                "included_credits": f.included_credits,
                "overage_usd": round(f.overage_usd, 2),
                "total_usd": round(f.total_usd, 2) if f.total_usd is not None else None,
                "fits": f.fits,
                "note": f.note,
            }
            for f in fits
        ],
    }
