"""The benchmarks' simulated users run Chromium as an unprivileged user's browser runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lib.bench import harness

RAISE_PRIORITY = "import os; os.setpriority(os.PRIO_PROCESS, 0, -8); print('raised')"


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
def test_the_browser_cannot_raise_its_threads_priority_even_when_started_by_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Chromium does to its compositor and WebRTC threads, tried by a stand-in program.
    direct = subprocess.run([sys.executable, "-c", RAISE_PRIORITY], capture_output=True, text=True)
    if direct.stdout.strip() != "raised":  # e.g. a container's root without CAP_SYS_NICE
        pytest.skip("root here cannot raise priorities either: nothing for the wrapper to drop")
    monkeypatch.setattr(harness, "CHROMIUM", sys.executable)
    wrapper = harness.user_chromium(tmp_path)
    assert wrapper != sys.executable and os.access(wrapper, os.X_OK)
    run = subprocess.run([wrapper, "-c", RAISE_PRIORITY], capture_output=True, text=True)
    assert run.returncode != 0 and "PermissionError" in run.stderr, run.stderr
    # Arguments reach the browser unchanged (Playwright passes many, with spaces and '=').
    echo = subprocess.run(
        [wrapper, "-c", "import sys; print(sys.argv[1:])", "a b", "--x=1"],
        capture_output=True,
        text=True,
    )
    assert echo.stdout.strip() == "['a b', '--x=1']"


def test_without_root_the_browser_is_started_as_it_is(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert harness.user_chromium(tmp_path) == harness.CHROMIUM


AUTOGROUP = Path("/proc/self/autogroup")


@pytest.mark.skipif(not AUTOGROUP.exists(), reason="needs the kernel's autogroup scheduling")
def test_tabs_asked_to_stand_back_do_so_as_a_group_and_thread_by_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started in a session of its own (as Playwright starts Chromium), the browser's
    scheduling group gets the asked nice, and so do its threads; started inside another
    session, that session's group (the servers') is left alone."""
    monkeypatch.setattr(harness, "CHROMIUM", sys.executable)
    wrapper = harness.user_chromium(tmp_path, nice=5)
    # The kernel prints nothing for a process in its default group (pid 1's session, where a
    # CI runner may start us), so the group's nice reads "-" there.
    show = (
        "import os; group = open('/proc/self/autogroup').read().split() or ['-'];"
        " print(group[-1], os.nice(0))"
    )
    alone = subprocess.run(
        [wrapper, "-c", show], capture_output=True, text=True, start_new_session=True
    )
    assert alone.stdout.split() == ["5", "5"], alone.stderr
    before = AUTOGROUP.read_text()
    shared = subprocess.run([wrapper, "-c", show], capture_output=True, text=True)
    assert shared.stdout.split()[1:] == ["5"], shared.stderr
    assert AUTOGROUP.read_text() == before
