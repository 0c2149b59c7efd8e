"""CPU time and resident memory of process trees, read from /proc: what the soak's app, local
servers and browser use."""

from __future__ import annotations

import os
from pathlib import Path


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            todo.extend(int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split())
        except OSError:
            continue
    return out


def cpu_s(roots: list[int]) -> float:
    """CPU seconds of some processes and all their children, each counted once."""
    total = 0.0
    for p in {q for r in roots for q in tree(r)}:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def browser_pids() -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if "chromium" in (d / "comm").read_text():
                    out.append(int(d.name))
            except OSError:
                continue
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the app starts helpers)."""
    total = 0.0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
            pids.extend(int(c) for c in children)
        except OSError:
            continue
    return total
