"""A sweep run in the background for the Experiments page (the CLI runs it in the foreground)."""

from __future__ import annotations

import contextlib
import threading

from lib.runtime.script_upload import hold
from lib.runtime.sweep import Progress, Sweep, SweepPlan
from lib.store.database import Store


class SweepJob:
    """A sweep on its own thread; the page reads `progress` (replaced whole, so no lock)."""

    def __init__(self, store: Store, plan: SweepPlan) -> None:
        self.progress: Progress | None = None
        self.error: str | None = None
        self.done = False
        self.results: list[dict[str, object]] = []
        self.sweep = Sweep(store, plan, self.on_progress)
        self.folder = plan.script.folder

    def start(self) -> None:
        # Held from now (not from when the thread runs): the page's next run may clear uploads.
        held = contextlib.ExitStack()
        held.enter_context(hold(self.folder))

        def work() -> None:
            try:
                self.results = self.sweep.run()
            except Exception as exc:  # noqa: BLE001 - shown on the page; what ran is stored
                self.error = f"{type(exc).__name__}: {exc}"
            finally:
                held.close()  # the script's WAV files may go now
                self.done = True

        threading.Thread(target=work, name="experiment", daemon=True).start()

    def on_progress(self, p: Progress) -> None:
        self.progress = p
