"""Which voice model to talk to: OpenAI with a key, else the embedded Realtime server."""

from __future__ import annotations

import os

from lib.brain.base import Brain
from lib.brain.realtime import RealtimeClient
from lib.brain.textmodel import DEFAULT_TEXT_MODEL, TextModelSession
from lib.core import config
from lib.store.database import Store


def _local_realtime(local_url: str | None) -> tuple[str, config.Secret]:
    """The local Realtime server's base URL and key: `local_url`, else a running one named by
    AVATARLAB_LOCAL_REALTIME_URL, else the app's own (started on first use)."""
    from lib.emulators.launcher import local_server

    base, key = local_server(
        "realtime", local_url or os.environ.get("AVATARLAB_LOCAL_REALTIME_URL")
    )
    return base, config.Secret(key)


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
) -> RealtimeClient:
    """`local_url`: a running embedded server to use instead of the shared one."""
    name = provider or brain_status().name
    if name == "openai":
        key = config.require_key("OPENAI_API_KEY")
        url = config.resolve("OPENAI_REALTIME_URL")  # e.g. a proxy; default: the SDK's own
        return RealtimeClient(api_key=key, websocket_base_url=url, provider="openai", store=store)
    if name != "local":
        raise config.ConfigError(f"unknown voice model provider {name!r}; choose local or openai")
    base, key = _local_realtime(local_url)
    ws = base.replace("http://", "ws://").rstrip("/") + "/v1"
    return RealtimeClient(api_key=key, websocket_base_url=ws, provider="local", store=store)


def build_text_model(
    store: Store | None,
    *,
    provider: str | None = None,
    model: str = DEFAULT_TEXT_MODEL,
    local_url: str | None = None,
) -> TextModelSession:
    """The streaming text model of the avatar-listens bridge: OpenAI Chat Completions with a
    key, else the embedded server's `/v1/chat/completions` (same personas, simulated timing)."""
    name = provider or brain_status().name
    if name == "openai":
        key = config.require_key("OPENAI_API_KEY")
        url = config.resolve("OPENAI_BASE_URL")  # default: the SDK's own
        return TextModelSession(
            api_key=key, base_url=url, provider="openai", model=model, store=store
        )
    if name != "local":
        raise config.ConfigError(f"unknown text model provider {name!r}; choose local or openai")
    base, key = _local_realtime(local_url)
    return TextModelSession(
        api_key=key,
        base_url=base.rstrip("/") + "/v1",
        provider="local",
        model=model,
        store=store,
    )


def build_brain(
    store: Store | None,
    *,
    provider: str | None = None,
    listen: bool = False,
    local_url: str | None = None,
    text_model: str = DEFAULT_TEXT_MODEL,
) -> Brain:
    """The model a conversation talks to: Realtime, or (avatar listens) the text model."""
    if listen:
        return build_text_model(store, provider=provider, model=text_model, local_url=local_url)
    return build_session(store, provider=provider, local_url=local_url)
