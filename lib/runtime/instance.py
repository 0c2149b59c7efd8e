"""This app process as one instance of a team's deployment: it holds a lease in the database,
renewed every third of LEASE_S; an owner whose lease has passed is dead, whatever machine it
ran on, and the reaper of any instance may stop what it left open.

Clocks: leases are stamped and read with each machine's own clock, so instances sharing a
database need their clocks in step (NTP) to well within LEASE_S.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Final

from lib.runtime.owner import HOST, OWNER, running_here
from lib.store.database import Store, StoreError
from lib.store.leases import hold_lease, leases, release_lease

log = logging.getLogger(__name__)

LEASE_S: Final = float(os.environ.get("AVATARLAB_LEASE_S", "30"))


class InstanceLease:
    """Registers this process and renews its lease on a thread until `stop`."""

    def __init__(self, store: Store, *, owner: str = OWNER, lease_s: float = LEASE_S) -> None:
        self.store, self.owner, self.lease_s = store, owner, lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="instance-lease", daemon=True)

    def start(self) -> InstanceLease:
        self._renew()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            release_lease(self.store, self.owner, time.time())
        except StoreError as exc:  # the lease then simply runs out
            log.warning("could not release the instance lease: %s", exc)

    def _renew(self) -> None:
        now = time.time()
        pid = int(self.owner.split(":")[1])
        hold_lease(self.store, self.owner, HOST, pid, now, now + self.lease_s)

    def _loop(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                self._renew()
            except Exception as exc:  # noqa: BLE001 - a database hiccup: the next renewal
                log.warning("instance lease not renewed: %s", exc)


class Liveness:
    """Which owners are alive, as of one moment: a lease that has not passed (or, for an owner
    that never registered, a process still running on this host; another host's unregistered
    owner counts as alive, since nothing here can tell)."""

    def __init__(self, store: Store, owners: Sequence[object]) -> None:
        self._leases = leases(store, [o for o in owners if isinstance(o, str) and o])
        self._now = time.time()

    def __call__(self, owner: object) -> bool:
        if not isinstance(owner, str) or not owner:
            return False
        here = running_here(owner)
        if here is False:  # this host, and the process is gone: no need to wait for its lease
            return False
        lease = self._leases.get(owner)
        if lease is None:
            return True
        return lease.stopped_at is None and lease.lease_until >= self._now
