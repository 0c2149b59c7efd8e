"""Build a provider by name (config.PROVIDERS): the embedded server speaking HeyGen v1 or
LiveAvatar (FULL / LITE), or the real HeyGen and LiveAvatar services."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import cast

from lib.avatar import heygen, liveavatar
from lib.avatar.base import AvatarProvider, SessionControls
from lib.avatar.heygen import HeyGenApi, HeyGenProvider
from lib.avatar.liveavatar import LiveAvatarApi, LiveAvatarProvider, Mode
from lib.avatar.livekit_transport import LiveKitTransport
from lib.avatar.local_transport import LocalRoomTransport
from lib.core import config


def build_provider(name: str, *, local_base_url: str | None = None) -> AvatarProvider:
    spec = config.PROVIDERS.get(name)
    if spec is None:
        raise config.ConfigError(
            f"unknown avatar provider {name!r}; choose one of {', '.join(config.PROVIDERS)}"
        )
    if spec.embedded:
        from lib.emulators.launcher import local_server

        # An already-running local server (dev, tests) instead of starting our own.
        base, local_key = local_server(
            "heygen", local_base_url or os.environ.get("AVATARLAB_LOCAL_HEYGEN_URL")
        )
        if spec.api == "liveavatar":
            local = LiveAvatarApi(config.Secret(local_key), base, provider=name)
            return LiveAvatarProvider(
                local,
                LocalRoomTransport,
                mode=cast(Mode, spec.mode),
                voice_model_key=_embedded_realtime_key,
            )
        return HeyGenProvider(
            HeyGenApi(config.Secret(local_key), base, provider="local", task_emotion=True),
            LocalRoomTransport,
        )
    assert spec.key_name is not None
    key = config.require_key(spec.key_name)
    if spec.api == "liveavatar":
        la = LiveAvatarApi(key, config.base_url(name), provider=name)
        return LiveAvatarProvider(
            la,
            LiveKitTransport,
            mode=cast(Mode, spec.mode),
            voice_model_key=lambda: config.require_key("OPENAI_API_KEY"),
        )
    return HeyGenProvider(HeyGenApi(key, config.base_url(name)), LiveKitTransport)


def session_controls(name: str) -> SessionControls:
    """What provider `name`'s session takes besides the avatar and the quality."""
    spec = config.PROVIDERS[name]
    if spec.api == "liveavatar":
        return liveavatar.CONTROLS[cast(Mode, spec.mode)]
    # The embedded server takes an emotion per task as well (`task_emotion` above).
    return replace(heygen.CONTROLS, emotion_per_piece=spec.embedded)


def _embedded_realtime_key() -> config.Secret:
    """The embedded LiveAvatar server's connector calls the embedded Realtime server."""
    from lib.emulators.launcher import local_server

    # A server we did not start (tests, dev) was pointed at its Realtime server by whoever
    # started it: ask for the key of a server given by URL, never start one of our own for it.
    given = os.environ.get("AVATARLAB_LOCAL_REALTIME_URL") or os.environ.get(
        "AVATARLAB_LOCAL_HEYGEN_URL"
    )
    _, key = local_server("realtime", given)
    return config.Secret(key)
