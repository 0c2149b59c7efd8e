"""The first run's demo sweep: about a minute on the embedded default, enough recorded turns to
fill Latency, Costs, Experiments and Sessions with something real to look at."""

from __future__ import annotations

from typing import Final

from lib.bridge.config import BridgeConfig
from lib.runtime.script import DEMO_SCRIPT, Script
from lib.runtime.sweep import SweepPlan

DEMO_NAME: Final = "demo sweep"
# Two strategies far apart (the whole answer vs sentence by sentence) over three questions:
# the concierge's answers take 8–10 s to speak, so six turns are about a minute.
DEMO_PLAN: Final = SweepPlan(
    brain="local",
    avatar="local",
    bridges=(BridgeConfig(mode="text", chunking="whole"), BridgeConfig(mode="text")),
    script=Script("demo", DEMO_SCRIPT.persona, DEMO_SCRIPT.turns[:3]),
    repeat=1,
    quality="medium",
    name=DEMO_NAME,
)
