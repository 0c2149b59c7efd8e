"""What to do with the recorded sessions a dead process left behind.

Every avatar session and conversation row carries its owner: host, pid and the process's
start time (a pid alone is reused); an owner is dead when its process is gone from this host or
its lease has passed (lib.runtime.instance). At start-up — and then every REAP_INTERVAL_S —
each instance recovers what dead owners left: their open turns are marked interrupted (nothing
already written is touched), their conversations ended, and their paid avatar sessions stopped
at the provider (`python -m lib reap` does the same by hand). Instances sharing a database race
for each left-open session with a conditional update, so exactly one of them stops it; a live
owner's rows are never touched. Sessions the provider lists that this store never started are
not ours and are left alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Final

from lib.avatar.base import AvatarProvider
from lib.runtime.avatar_providers import ProviderFactory
from lib.runtime.instance import Liveness
from lib.runtime.owner import OWNER
from lib.store import jobs
from lib.store.database import Store
from lib.store.leases import claim
from lib.store.queries import (
    conversation_owners,
    open_turn_ids,
    provider_sessions,
    unfinished_chunks,
    unfinished_experiments,
)

log = logging.getLogger(__name__)

REAP_INTERVAL_S: Final = float(os.environ.get("AVATARLAB_REAP_INTERVAL", "30"))
OPEN_SESSION: Final = ("starting", "live")
OPEN_CONVERSATION: Final = ("starting", "live", "audio_only")


@dataclass
class Recovery:
    turns_interrupted: int = 0
    conversations_ended: int = 0
    experiments_interrupted: int = 0
    jobs_abandoned: int = 0  # sweep jobs only a dead process could play, or cancelled ones it left
    sessions_stopped: list[str] = field(default_factory=list)  # provider session ids
    sessions_gone: int = 0  # already ended at the provider
    problems: list[str] = field(default_factory=list)


def recover_store(store: Store, result: Recovery) -> None:
    """Turns and conversations a dead process left open: stored as interrupted / ended."""
    convs = conversation_owners(store, OPEN_CONVERSATION)
    exps = unfinished_experiments(store)
    pinned = jobs.pinned_owners(store)
    alive = Liveness(store, [*convs["owner"], *exps["owner"], *pinned])
    now = time.time()
    for cid, owner, status in convs.itertuples(index=False):
        if alive(owner):
            continue
        ended = {"status": "interrupted", "stopped_at": now, "error": "the app stopped"}
        if not claim(store, "conversations", cid, {"status": status}, ended):
            continue  # another instance's reaper is recovering it
        for tid in open_turn_ids(store, cid):
            store.update(
                "turns",
                tid,
                {"status": "interrupted", "error": "the app stopped during this turn"},
            )
            for chunk_id, chunk_status in unfinished_chunks(store, tid):
                new = "interrupted" if chunk_status == "speaking" else "dropped"
                store.update("chunks", chunk_id, {"status": new})
            result.turns_interrupted += 1
        result.conversations_ended += 1
    result.jobs_abandoned += jobs.abandon_pinned(store, [o for o in pinned if not alive(o)], now)
    result.jobs_abandoned += jobs.stop_lost(store, now)
    for eid, owner, has_jobs in exps.itertuples(index=False):
        if has_jobs or alive(owner):
            continue  # a queued sweep's jobs are reclaimed by any instance, not interrupted
        store.update(
            "experiments",
            eid,
            {
                "status": "interrupted",
                "finished_at": now,
                "error": "the app stopped during this sweep; what ran is kept (Resume runs "
                "the rest)",
            },
        )
        result.experiments_interrupted += 1


async def _reap_provider(
    store: Store, name: str, provider: AvatarProvider, result: Recovery
) -> None:
    ours = provider_sessions(store, name)
    if ours.empty:
        return
    listed = {s.session_id for s in await provider.list_sessions()}
    alive = Liveness(store, [*ours["owner"], *ours["reaped_by"]])
    now = time.time()
    for row_id, remote, owner, status, reaper in ours.itertuples(index=False):
        reaper = reaper if isinstance(reaper, str) else None
        left_open = status in OPEN_SESSION and not alive(owner)
        # A reaper that died between claiming a session and stopping it; or ours, to retry.
        unfinished = status == "reaping" and (reaper == OWNER or not alive(reaper))
        # We stopped it, yet the provider still runs it.
        stray = remote in listed and status not in (*OPEN_SESSION, "reaping")
        if not (left_open or unfinished or stray):
            continue
        seen = {"status": status, "reaped_by": reaper}
        if not claim(
            store, "avatar_sessions", row_id, seen, {"reaped_by": OWNER, "status": "reaping"}
        ):
            continue  # another instance claimed it first: that one stops it
        if remote in listed:
            try:
                await provider.stop_session(remote)
                result.sessions_stopped.append(remote)
            except Exception as exc:  # noqa: BLE001 - reported; tried again next interval
                result.problems.append(f"{name} {remote}: {exc}")
                continue  # still "reaping" by us: our next pass retries it
        else:
            result.sessions_gone += 1
        done = {"status": "stopped", "stopped_at": now, "stop_reason": "REAPED"}
        if status not in (*OPEN_SESSION, "reaping"):  # a stray keeps how it ended
            done = {"status": status}
        store.update("avatar_sessions", row_id, done)


def reap(store: Store, factory: ProviderFactory, providers: list[str]) -> Recovery:
    """One pass: recover the store, then stop our left-behind sessions at each provider."""
    result = Recovery()
    recover_store(store, result)

    async def run() -> None:
        for name in providers:
            try:
                provider = await asyncio.to_thread(factory, name)
            except Exception as exc:  # noqa: BLE001 - e.g. no key: nothing of ours to reap there
                result.problems.append(f"{name}: {exc}")
                continue
            try:
                await _reap_provider(store, name, provider, result)
            except Exception as exc:  # noqa: BLE001 - the provider is unreachable: next time
                result.problems.append(f"{name}: {exc}")
            finally:
                await provider.aclose()

    asyncio.run(run())
    return result


class Reaper:
    """At start-up, then every `interval_s`, on its own thread (one per app process)."""

    def __init__(
        self, store: Store, factory: ProviderFactory, providers: list[str], interval_s: float
    ) -> None:
        self.store, self.factory, self.providers = store, factory, providers
        self.interval_s = interval_s
        self.last: Recovery | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reaper", daemon=True)

    def start(self) -> Reaper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.last = reap(self.store, self.factory, self.providers)
                if (
                    self.last.sessions_stopped
                    or self.last.turns_interrupted
                    or self.last.experiments_interrupted
                ):
                    log.info("reaper: %s", self.last)
            except Exception:  # a reaper bug must not take the app down
                log.exception("reaper pass failed")
            self._stop.wait(self.interval_s)


def reap_providers() -> list[str]:
    """Where our sessions can outlive us: the real services with a key, and a local server
    we did not start ourselves (the embedded one exits with the app, sessions and all)."""
    from lib.core import config

    external = bool(os.environ.get("AVATARLAB_LOCAL_HEYGEN_URL"))
    return [
        name
        for name, spec in config.PROVIDERS.items()
        if (external if spec.embedded else config.provider_status(name).usable)
    ]
