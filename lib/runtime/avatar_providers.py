"""The avatar providers a runner talks to: each built on first use and kept, with its catalog,
for the runner's life."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from lib.avatar.base import AvatarInfo, AvatarProvider, VoiceInfo

ProviderFactory = Callable[[str], AvatarProvider]


def default_factory(name: str) -> AvatarProvider:
    from lib.avatar.providers import build_provider

    return build_provider(name)


class Providers:
    """On the runner loop."""

    def __init__(self, factory: ProviderFactory) -> None:
        self._factory = factory
        self._built: dict[str, AvatarProvider] = {}

    async def get(self, name: str) -> AvatarProvider:
        if name not in self._built:
            # May start the embedded server (a subprocess): keep it off the loop.
            self._built[name] = await asyncio.to_thread(self._factory, name)
        return self._built[name]

    async def catalog(self, name: str) -> tuple[list[AvatarInfo], list[VoiceInfo]]:
        provider = await self.get(name)
        avatars, voices = await asyncio.gather(provider.list_avatars(), provider.list_voices())
        return avatars, voices

    async def aclose(self) -> None:
        for provider in self._built.values():
            with contextlib.suppress(Exception):
                await provider.aclose()
        self._built.clear()
