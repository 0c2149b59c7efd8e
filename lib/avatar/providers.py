"""Build a provider by name: local (embedded server), heygen, liveavatar."""

from __future__ import annotations

import os

from lib.avatar.base import AvatarProvider
from lib.avatar.heygen import HeyGenApi, HeyGenProvider
from lib.avatar.liveavatar import LiveAvatarApi, LiveAvatarProvider, Mode
from lib.avatar.livekit_transport import LiveKitTransport
from lib.avatar.local_transport import LocalRoomTransport
from lib.core import config

LOCAL_KEY = config.Secret("local-embedded")  # the embedded server accepts any non-empty key


def build_provider(
    name: str, *, liveavatar_mode: Mode = "FULL", local_base_url: str | None = None
) -> AvatarProvider:
    if name == "local":
        # An already-running local server (dev, tests) instead of starting our own.
        local_base_url = local_base_url or os.environ.get("AVATARLAB_LOCAL_HEYGEN_URL") or None
        if local_base_url is None:
            from lib.emulators.launcher import shared_emulator

            local_base_url = shared_emulator("heygen").base_url
        return HeyGenProvider(
            HeyGenApi(LOCAL_KEY, local_base_url, provider="local", task_emotion=True),
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
