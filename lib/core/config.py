"""Keys and base URLs: explicit value → st.secrets → environment → a clear error.

Keys are wrapped in `Secret` so that printing, logging or repr-ing a config never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


class ConfigError(RuntimeError):
    """A required setting is missing; the message names what to set and where."""


class Secret:
    """A key that never shows itself: str/repr are masked; use `.reveal()` at the network edge."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    label: str
    key_name: str | None  # None: needs no key (the embedded server)
    url_name: str | None
    default_url: str | None
    api: str = "heygen"  # the wire protocol: "heygen" (Interactive Avatar v1) or "liveavatar"
    mode: str | None = None  # LiveAvatar's session mode: "FULL" (its voice) or "LITE" (ours)
    # The bridge modes it can show: text → its voice, our audio → lip-sync, it hears the user.
    bridges: tuple[str, ...] = ("text", "audio", "listen")
    # (bridge mode, why it is not offered): said when someone asks for it anyway.
    why_not: tuple[tuple[str, str], ...] = ()

    @property
    def embedded(self) -> bool:
        return self.key_name is None


_LIVEAVATAR_KEY = ("LIVEAVATAR_API_KEY", "LIVEAVATAR_BASE_URL", "https://api.liveavatar.com")
# FULL speaks text with LiveAvatar's voice and hears the user; LITE only lip-syncs our audio.
_FULL_BRIDGES = ("text", "listen")
_LITE_BRIDGES = ("audio", "connector")
_LITE_WHY_NOT = (
    ("text", "LITE has no voice of its own: it lip-syncs audio it is sent"),
    ("listen", "LITE has no speech recognition of its own"),
)
_FULL_WHY_NOT = (("audio", "FULL speaks with LiveAvatar's voice: it takes text, not audio"),)

PROVIDERS: Final[dict[str, ProviderSpec]] = {
    "local": ProviderSpec("local", "Local (embedded HeyGen-compatible server)", None, None, None),
    "local-liveavatar": ProviderSpec(
        "local-liveavatar",
        "Local LiveAvatar FULL (embedded)",
        None,
        None,
        None,
        api="liveavatar",
        mode="FULL",
        bridges=_FULL_BRIDGES,
        why_not=_FULL_WHY_NOT,
    ),
    "local-liveavatar-lite": ProviderSpec(
        "local-liveavatar-lite",
        "Local LiveAvatar LITE (embedded)",
        None,
        None,
        None,
        api="liveavatar",
        mode="LITE",
        bridges=_LITE_BRIDGES,
        why_not=_LITE_WHY_NOT,
    ),
    "heygen": ProviderSpec(
        "heygen",
        "HeyGen Interactive Avatar (v1)",
        "HEYGEN_API_KEY",
        "HEYGEN_BASE_URL",
        "https://api.heygen.com",
        bridges=("text", "audio"),
        why_not=(
            (
                "listen",
                "HeyGen's voice chat answers with its own LLM (a default knowledge base even "
                "without one) and nothing documented turns that off: the avatar would answer "
                "twice",
            ),
        ),
    ),
    "liveavatar": ProviderSpec(
        "liveavatar",
        "LiveAvatar FULL",
        *_LIVEAVATAR_KEY,
        api="liveavatar",
        mode="FULL",
        bridges=_FULL_BRIDGES,
        why_not=_FULL_WHY_NOT,
    ),
    "liveavatar-lite": ProviderSpec(
        "liveavatar-lite",
        "LiveAvatar LITE",
        *_LIVEAVATAR_KEY,
        api="liveavatar",
        mode="LITE",
        bridges=_LITE_BRIDGES,
        why_not=_LITE_WHY_NOT,
    ),
}
BRIDGE_NAMES: Final = {
    "text": "Text → avatar voice",
    "audio": "Audio → avatar lip-sync",
    "listen": "Avatar listens → text model",
    "connector": "LiveAvatar connector (it runs OpenAI Realtime)",
}


def check_bridge(provider: str, bridge: str) -> None:
    """Refuse a bridge mode the provider cannot show, saying which ones it can."""
    spec = PROVIDERS[provider]
    if bridge not in spec.bridges:
        can = ", ".join(BRIDGE_NAMES.get(b, b) for b in spec.bridges)
        why = dict(spec.why_not).get(bridge)
        raise ConfigError(
            f"{spec.label} cannot do '{BRIDGE_NAMES.get(bridge, bridge)}'"
            + (f" ({why})" if why else "")
            + f"; it can do: {can}. Choose another bridge mode or another avatar provider."
        )


def streamlit_secrets() -> Mapping[str, object]:
    """st.secrets if a secrets file exists; {} outside Streamlit or without a file."""
    try:
        import streamlit as st

        secrets = st.secrets
        # Accessing a missing secrets file raises; touching `keys()` triggers the parse.
        list(secrets.keys())
        return secrets
    except Exception:  # noqa: BLE001 - absence of a secrets file is the common case
        return {}


def resolve(
    name: str,
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, object] | None = None,
) -> str | None:
    """First non-empty of explicit, st.secrets[name], os.environ[name]."""
    if explicit:
        return explicit
    src_secrets = streamlit_secrets() if secrets is None else secrets
    value = src_secrets.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip()
    src_env = os.environ if env is None else env
    value_env = src_env.get(name, "").strip()
    return value_env or None


def require_key(
    name: str,
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, object] | None = None,
) -> Secret:
    value = resolve(name, explicit, env=env, secrets=secrets)
    if not value:
        raise ConfigError(
            f'{name} is not set. Put it in .streamlit/secrets.toml ({name} = "...") '
            f"or export {name}=... before starting the app."
        )
    return Secret(value)


@dataclass(frozen=True)
class ProviderStatus:
    name: str
    label: str
    usable: bool
    reason: str  # why (not) usable — never contains a key


def provider_status(
    name: str,
    *,
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, object] | None = None,
) -> ProviderStatus:
    spec = PROVIDERS[name]
    if spec.key_name is None:
        return ProviderStatus(name, spec.label, True, "embedded, no key needed")
    if resolve(spec.key_name, env=env, secrets=secrets):
        url = base_url(name, env=env, secrets=secrets)
        return ProviderStatus(name, spec.label, True, f"{spec.key_name} is set; API at {url}")
    return ProviderStatus(
        name,
        spec.label,
        False,
        f"set {spec.key_name} in .streamlit/secrets.toml or the environment",
    )


def base_url(
    name: str,
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, object] | None = None,
) -> str:
    spec = PROVIDERS[name]
    if spec.url_name is None or spec.default_url is None:
        raise ConfigError(f"provider {name!r} has no configurable base URL")
    return (resolve(spec.url_name, explicit, env=env, secrets=secrets) or spec.default_url).rstrip(
        "/"
    )


def db_path(env: Mapping[str, str] | None = None) -> str:
    """SQLite file (or a database URL later); AVATARLAB_DB overrides `data/avatarlab.db`."""
    src = os.environ if env is None else env
    return src.get("AVATARLAB_DB", "").strip() or os.path.join("data", "avatarlab.db")
