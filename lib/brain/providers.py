"""Which voice model to talk to: OpenAI with a key, else the embedded Realtime server."""

from __future__ import annotations

import os

from lib import config
from lib.brain.realtime import RealtimeSession
from lib.store import Store

LOCAL_KEY = config.Secret("local-embedded")


def brain_status() -> config.ProviderStatus:
    if config.resolve("OPENAI_API_KEY"):
        return config.ProviderStatus("openai", "OpenAI Realtime", True, "OPENAI_API_KEY is set")
    return config.ProviderStatus(
        "local",
        "Embedded Realtime server",
        True,
        "no OPENAI_API_KEY: the embedded Realtime-compatible server answers (simulated timing)",
    )


def build_session(
    store: Store | None, *, provider: str | None = None, local_url: str | None = None
) -> RealtimeSession:
    """`local_url`: a running embedded server to use instead of the shared one."""
    name = provider or brain_status().name
    if name == "openai":
        key = config.require_key("OPENAI_API_KEY")
        url = config.resolve("OPENAI_REALTIME_URL")  # e.g. a proxy; default: the SDK's own
        return RealtimeSession(api_key=key, websocket_base_url=url, provider="openai", store=store)
    if name != "local":
        raise config.ConfigError(f"unknown voice model provider {name!r}; choose local or openai")
    base = local_url or os.environ.get("AVATARLAB_LOCAL_REALTIME_URL") or None
    if base is None:
        from lib.emulators.process import shared_emulator

        base = shared_emulator("realtime").base_url
    ws = base.replace("http://", "ws://").rstrip("/") + "/v1"
    return RealtimeSession(api_key=LOCAL_KEY, websocket_base_url=ws, provider="local", store=store)
