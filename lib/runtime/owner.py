"""Who owns a recorded session: host, pid and the process's start time (a pid alone is reused).

Every avatar session, conversation and sweep job row carries its owner, so that the reaper can
tell the rows of a live process from those a crashed one left open (lib.runtime.instance adds
the leases that tell across machines).
"""

from __future__ import annotations

import os
import socket
from typing import Final


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


# The machine's name in the database: the host name, unless AVATARLAB_HOST names it (machines
# that share a host name, e.g. containers cloned from one image, must each be given one).
HOST: Final = os.environ.get("AVATARLAB_HOST", "").strip() or socket.gethostname()


def owner_of(pid: int) -> str:
    return f"{HOST}:{pid}:{_start_ticks(pid) or '?'}"


OWNER: Final = owner_of(os.getpid())


def running_here(owner: str) -> bool | None:
    """Is the process that wrote `owner` still running (same pid and start time)? None when it
    ran on another host: this machine cannot tell."""
    host, _, rest = owner.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if host != HOST:
        return None
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    now = _start_ticks(pid)
    return now is not None and (ticks in ("?", now))


def owner_alive(owner: str | None) -> bool:
    """Without leases: a process of this host is alive if it runs; another host's owner counts
    as alive (we cannot tell, so we never reap it)."""
    return bool(owner) and running_here(owner or "") is not False
