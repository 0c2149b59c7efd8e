"""Build a provider by name: local (embedded server), heygen, liveavatar."""

from __future__ import annotations

import os

from lib.avatar.base import AvatarProvider
from lib.avatar.heygen import HeyGenApi, HeyGenProvider
from lib.avatar.liveavatar import LiveAvatarApi, LiveAvatarProvider, Mode
from lib.avatar.livekit_transport import LiveKitTransport
from lib.avatar.local_transport import LocalRoomTransport
from lib.core import config


def build_provider(
    name: str, *, liveavatar_mode: Mode = "FULL", local_base_url: str | None = None
) -> AvatarProvider:
    if name == "local":
        from lib.emulators.launcher import local_server

        # An already-running local server (dev, tests) instead of starting our own.
        base, key = local_server(
            "heygen", local_base_url or os.environ.get("AVATARLAB_LOCAL_HEYGEN_URL")
        )
        return HeyGenProvider(
            HeyGenApi(config.Secret(key), base, provider="local", task_emotion=True),
            LocalRoomTransport,
        )
    if name == "heygen":
        api = HeyGenApi(config.require_key("HEYGEN_API_KEY"), config.base_url("heygen"))
        return HeyGenProvider(api, LiveKitTransport)
    if name == "liveavatar":
        la = LiveAvatarApi(config.require_key("LIVEAVATAR_API_KEY"), config.base_url("liveavatar"))
        return LiveAvatarProvider(la, LiveKitTransport, mode=liveavatar_mode)
    raise config.ConfigError(
        f"unknown avatar provider {name!r}; choose local, heygen or liveavatar"
    )
