"""Pricing tables as data: TOML files, one entry per price with its source and as-of date.

Built-in tables live in `lib/metrics/pricing/tables/`; versions edited on the Costs page are
saved in the store (lib.metrics.pricing.versions). A table is versioned (`version`,
`effective_from`), so recorded sessions can be priced with the table in effect on their day or
re-priced with any other. A malformed table is refused with the line and field at fault.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Literal, NoReturn

BUILTIN_DIR: Final = Path(__file__).resolve().parent / "tables"
AVATAR_KEYS: Final = ("heygen", "liveavatar_full", "liveavatar_lite")
PLAN_PROVIDERS: Final = ("heygen", "liveavatar")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,60}$")


class PricingError(ValueError):
    """A table that cannot be used: says the file, line and field, and what to write."""


@dataclass(frozen=True)
class Entry:
    source: str
    as_of: date


@dataclass(frozen=True)
class TokenPrices(Entry):
    """USD per 1M tokens."""

    model: str
    text_in: float
    text_cached: float
    text_out: float
    audio_in: float = 0.0
    audio_cached: float = 0.0
    audio_out: float = 0.0


@dataclass(frozen=True)
class TranscriptionPrice(Entry):
    model: str
    per_minute: float
    audio_in: float | None = None  # per 1M tokens, for token-billed models
    text_out: float | None = None


@dataclass(frozen=True)
class AvatarBilling(Entry):
    key: str  # heygen | liveavatar_full | liveavatar_lite
    credits_per_minute: float
    minimum_s: float
    increment_s: float
    escrow_minutes: float
    usd_per_credit: float


@dataclass(frozen=True)
class Plan(Entry):
    provider: str
    name: str
    monthly_usd: float | None = None
    credits: float | None = None
    overage_per_credit: float | None = None
    custom: bool = False


@dataclass(frozen=True)
class PerMinute(Entry):
    """The seed's framing: USD per minute of audio in and out."""

    audio_in: float
    audio_out: float


@dataclass(frozen=True)
class Example:
    """A table's own example assumptions (the seed's), used when no flag overrides them."""

    talk_ratio: float
    model_output: Literal["text", "audio"]
    avatar: str


@dataclass(frozen=True)
class PricingTable:
    name: str
    version: int
    kind: Literal["list", "seed"]
    effective_from: date
    currency: str
    description: str
    realtime: dict[str, TokenPrices] = field(default_factory=dict)
    text: dict[str, TokenPrices] = field(default_factory=dict)
    transcription: dict[str, TranscriptionPrice] = field(default_factory=dict)
    avatar: dict[str, AvatarBilling] = field(default_factory=dict)
    plans: tuple[Plan, ...] = ()
    per_minute: PerMinute | None = None
    example: Example | None = None
    origin: str = ""
    raw: str = ""
    saved_by: str | None = None  # None: built in
    saved_at: float | None = None  # epoch seconds

    def plans_for(self, provider: str) -> list[Plan]:
        return [p for p in self.plans if p.provider == provider]


# ---- where in the file ------------------------------------------------------------------


def line_of(raw: str, section: str, index: int | None, key: str | None) -> int | None:
    """The line of `key` in `[section]` (or the `index`-th `[[section]]`), 1-based; top-level
    keys with `section=""`."""
    lines = [ln.split("#", 1)[0].strip() for ln in raw.splitlines()]
    start = 0
    if section:
        header = f"[[{section}]]" if index is not None else f"[{section}]"
        found = [n for n, text in enumerate(lines) if text == header]
        pick = index or 0
        if len(found) <= pick:
            return None
        if key is None:
            return found[pick] + 1
        start = found[pick] + 1
    for n in range(start, len(lines)):
        if lines[n].startswith("["):
            break
        if key and re.match(rf"^{re.escape(key)}\s*=", lines[n]):
            return n + 1
    return None


class _Reader:
    """Reads typed fields out of parsed TOML, raising PricingError with file:line."""

    def __init__(self, raw: str, origin: str) -> None:
        self.raw = raw
        self.origin = origin

    def fail(self, section: str, index: int | None, key: str | None, message: str) -> NoReturn:
        line = line_of(self.raw, section, index, key)
        where = f"{self.origin}" + (f", line {line}" if line else "")
        path = ".".join(
            p for p in (section, f"#{index + 1}" if index is not None else "", key) if p
        )
        raise PricingError(f"{where}: {path or 'table'}: {message}")

    def number(
        self,
        data: dict[str, Any],
        key: str,
        section: str,
        index: int | None,
        *,
        required: bool = True,
        default: float | None = None,
        maximum: float = 1e6,
    ) -> Any:
        if key not in data:
            if required:
                self.fail(section, index, key, f"missing; add {key} = <number>")
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(section, index, key, f"must be a number, not {value!r}")
        if value < 0 or value > maximum:
            self.fail(section, index, key, f"must be between 0 and {maximum:g}, not {value}")
        return float(value)

    def text(self, data: dict[str, Any], key: str, section: str, index: int | None) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(section, index, key, f'missing or empty; add {key} = "…"')
        return str(value).strip()

    def day(self, data: dict[str, Any], key: str, section: str, index: int | None) -> date:
        value = data.get(key)
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        self.fail(section, index, key, "must be a date like 2026-11-01 (no quotes)")

    def entry(self, data: dict[str, Any], section: str, index: int | None) -> dict[str, Any]:
        return {
            "source": self.text(data, "source", section, index),
            "as_of": self.day(data, "as_of", section, index),
        }

    def known(
        self, data: dict[str, Any], allowed: set[str], section: str, index: int | None
    ) -> None:
        extra = sorted(set(data) - allowed)
        if extra:
            self.fail(section, index, extra[0], f"unknown field; use {', '.join(sorted(allowed))}")


_TOKEN_FIELDS = ("text_in", "text_cached", "text_out", "audio_in", "audio_cached", "audio_out")


def parse_table(raw: str, origin: str = "table") -> PricingTable:
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise PricingError(f"{origin}: not valid TOML — {exc}") from None
    r = _Reader(raw, origin)
    r.known(
        data,
        {
            "name",
            "version",
            "kind",
            "effective_from",
            "currency",
            "description",
            "openai",
            "avatar",
            "example",
        },
        "",
        None,
    )
    name = r.text(data, "name", "", None)
    if not _NAME.match(name):
        r.fail("", None, "name", "use lowercase letters, digits, '.', '_' or '-' (2–61 chars)")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        r.fail("", None, "version", "must be a whole number ≥ 1")
    kind = data.get("kind", "list")
    if kind not in ("list", "seed"):
        r.fail("", None, "kind", 'must be "list" or "seed"')
    currency = str(data.get("currency", "USD"))
    if currency != "USD":
        r.fail("", None, "currency", 'only "USD" is supported')

    openai = data.get("openai", {})
    if not isinstance(openai, dict):
        r.fail("openai", None, None, "must be a table")
    r.known(openai, {"realtime", "text", "transcription", "per_minute"}, "openai", None)

    def token_list(key: str) -> dict[str, TokenPrices]:
        out: dict[str, TokenPrices] = {}
        items = openai.get(key, [])
        section = f"openai.{key}"
        if not isinstance(items, list):
            r.fail(section, None, None, f"write each model as a [[{section}]] table")
        for i, item in enumerate(items):
            r.known(item, {"model", "source", "as_of", *_TOKEN_FIELDS}, section, i)
            model = r.text(item, "model", section, i)
            if model in out:
                r.fail(section, i, "model", f"{model!r} is listed twice")
            p = {
                f: float(r.number(item, f, section, i, required=f.startswith("text")) or 0.0)
                for f in _TOKEN_FIELDS
            }
            out[model] = TokenPrices(
                model=model,
                text_in=p["text_in"],
                text_cached=p["text_cached"],
                text_out=p["text_out"],
                audio_in=p["audio_in"],
                audio_cached=p["audio_cached"],
                audio_out=p["audio_out"],
                **r.entry(item, section, i),
            )
        return out

    realtime, text = token_list("realtime"), token_list("text")
    transcription: dict[str, TranscriptionPrice] = {}
    for i, item in enumerate(openai.get("transcription", [])):
        section = "openai.transcription"
        r.known(
            item, {"model", "per_minute", "audio_in", "text_out", "source", "as_of"}, section, i
        )
        model = r.text(item, "model", section, i)
        transcription[model] = TranscriptionPrice(
            model=model,
            per_minute=r.number(item, "per_minute", section, i, maximum=100),
            audio_in=r.number(item, "audio_in", section, i, required=False),
            text_out=r.number(item, "text_out", section, i, required=False),
            **r.entry(item, section, i),
        )
    per_minute = None
    if "per_minute" in openai:
        pm, section = openai["per_minute"], "openai.per_minute"
        r.known(pm, {"audio_in", "audio_out", "source", "as_of"}, section, None)
        per_minute = PerMinute(
            audio_in=r.number(pm, "audio_in", section, None, maximum=100),
            audio_out=r.number(pm, "audio_out", section, None, maximum=100),
            **r.entry(pm, section, None),
        )

    avatar_data = data.get("avatar", {})
    if not isinstance(avatar_data, dict):
        r.fail("avatar", None, None, "must be a table")
    r.known(avatar_data, {*AVATAR_KEYS, "plan"}, "avatar", None)
    avatar: dict[str, AvatarBilling] = {}
    for key in AVATAR_KEYS:
        if key not in avatar_data:
            continue
        b, section = avatar_data[key], f"avatar.{key}"
        fields = {"credits_per_minute", "minimum_s", "increment_s", "escrow_minutes"}
        r.known(b, {*fields, "usd_per_credit", "source", "as_of"}, section, None)
        increment = r.number(b, "increment_s", section, None, maximum=3600)
        if increment == 0:
            r.fail(section, None, "increment_s", "must be at least 1 second")
        avatar[key] = AvatarBilling(
            key=key,
            credits_per_minute=r.number(b, "credits_per_minute", section, None, maximum=1000),
            minimum_s=r.number(b, "minimum_s", section, None, maximum=3600),
            increment_s=increment,
            escrow_minutes=r.number(b, "escrow_minutes", section, None, maximum=60),
            usd_per_credit=r.number(b, "usd_per_credit", section, None, maximum=1000),
            **r.entry(b, section, None),
        )
    plans: list[Plan] = []
    for i, p in enumerate(avatar_data.get("plan", [])):
        section = "avatar.plan"
        r.known(
            p,
            {
                "provider",
                "name",
                "monthly_usd",
                "credits",
                "overage_per_credit",
                "custom",
                "source",
                "as_of",
            },
            section,
            i,
        )
        provider = r.text(p, "provider", section, i)
        if provider not in PLAN_PROVIDERS:
            r.fail(section, i, "provider", f"must be one of {', '.join(PLAN_PROVIDERS)}")
        custom = bool(p.get("custom", False))
        plans.append(
            Plan(
                provider=provider,
                name=r.text(p, "name", section, i),
                monthly_usd=r.number(p, "monthly_usd", section, i, required=not custom),
                credits=r.number(p, "credits", section, i, required=not custom),
                overage_per_credit=r.number(p, "overage_per_credit", section, i, required=False),
                custom=custom,
                **r.entry(p, section, i),
            )
        )
    example = None
    if "example" in data:
        ex = data["example"]
        r.known(ex, {"talk_ratio", "model_output", "avatar"}, "example", None)
        ratio = r.number(ex, "talk_ratio", "example", None, maximum=1)
        if ratio == 0:
            r.fail("example", None, "talk_ratio", "must be more than 0")
        output = ex.get("model_output", "text")
        if output not in ("text", "audio"):
            r.fail("example", None, "model_output", 'must be "text" or "audio"')
        example = Example(ratio, output, str(ex.get("avatar", "heygen")))
    if not (realtime or per_minute or avatar):
        r.fail("", None, None, "has no prices; add [[openai.realtime]] or [avatar.heygen] entries")
    return PricingTable(
        name=name,
        version=version,
        kind=kind,
        effective_from=r.day(data, "effective_from", "", None),
        currency=currency,
        description=str(data.get("description", "")),
        realtime=realtime,
        text=text,
        transcription=transcription,
        avatar=avatar,
        plans=tuple(plans),
        per_minute=per_minute,
        example=example,
        origin=origin,
        raw=raw,
    )


# ---- the collection ---------------------------------------------------------------------


def builtin_versions() -> list[PricingTable]:
    """Every built-in table file, by name then version."""
    tables = [
        parse_table(path.read_text(encoding="utf-8"), path.name)
        for path in sorted(BUILTIN_DIR.glob("*.toml"))
    ]
    return sorted(tables, key=lambda t: (t.name, t.version))


def newest(tables: list[PricingTable]) -> dict[str, PricingTable]:
    """By name, the highest version (the first seen of equal versions)."""
    out: dict[str, PricingTable] = {}
    for table in tables:
        if table.name not in out or table.version > out[table.name].version:
            out[table.name] = table
    return out


def builtin_tables() -> dict[str, PricingTable]:
    """The built-in tables alone, by name (what the pure cost tests price with)."""
    return newest(builtin_versions())


def table_in_effect(tables: dict[str, PricingTable], at: float | None = None) -> PricingTable:
    """The list table in effect at epoch `at` (default now): re-pricing history uses the
    prices of its day; before the oldest table, the oldest applies."""
    listed = sorted(
        (t for t in tables.values() if t.kind == "list"), key=lambda t: t.effective_from
    )
    if not listed:
        raise PricingError("no list pricing table is installed")
    day = datetime.fromtimestamp(at, UTC).date() if at is not None else date.today()
    current = [t for t in listed if t.effective_from <= day]
    return current[-1] if current else listed[0]
