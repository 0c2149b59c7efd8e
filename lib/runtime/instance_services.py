"""What makes an app process an instance of the lab, started once when it starts: its lease
(lib.runtime.instance), the reaper of what dead owners left, and its sweep worker, which plays
everyone's sweep jobs one at a time. Started by `python -m lib serve` before the server, so an
instance works sweeps even before anyone opens a page (and by app.py, for `streamlit run`)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from lib.runtime.avatar_providers import default_factory
from lib.runtime.instance import InstanceLease
from lib.runtime.reaper import REAP_INTERVAL_S, Reaper, reap_providers
from lib.runtime.sweep_jobs import JOBS, SweepWorker
from lib.store.database import StoreError, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    lease: InstanceLease
    reaper: Reaper
    worker: SweepWorker


_started: Services | None = None
_lock = threading.Lock()


def start_instance() -> Services | None:
    """Once per process; None if the database cannot be used (the pages say why)."""
    global _started
    with _lock:
        if _started is not None:
            return _started
        try:
            store = open_store()
            lease = InstanceLease(store).start()
        except StoreError as exc:
            log.warning("not taking part as an instance: %s", exc)
            return None
        reaper = Reaper(store, default_factory, reap_providers(), REAP_INTERVAL_S).start()
        _started = Services(lease, reaper, JOBS.serve(store))
        return _started
