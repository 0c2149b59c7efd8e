"""Emulator servers for the server tests, started as a user would (`python -m lib emulator
heygen --port 0 ...`), waited for on their READY line, and terminated afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import httpx
import pytest

from lib.emulators.launcher import EmulatorProcess, start_emulator

TEST_KEY = "test-key"
# The control endpoint takes the server's key (servers started without one: any non-empty key).
CONTROL = {"x-api-key": "tester"}


def _stop_and_check(emu: EmulatorProcess) -> None:
    emu.stop()
    # The server must have handled everything the tests threw at it without crashing a handler.
    problems = [line for line in emu.output if "Traceback" in line or "ERROR" in line]
    assert not problems, "\n".join(emu.output[-40:])


def fault(emu: EmulatorProcess, kind: str, **spec: object) -> None:
    """Set a fault on a running server through its control endpoint, as a tester would."""
    resp = httpx.post(
        f"{emu.base_url}/_control/faults", json={"kind": kind, **spec}, headers=CONTROL, timeout=10
    )
    resp.raise_for_status()


def clear_faults(emu: EmulatorProcess) -> None:
    httpx.delete(f"{emu.base_url}/_control/faults", headers=CONTROL, timeout=10)


@pytest.fixture(scope="module")
def keyed_emulator() -> Iterator[EmulatorProcess]:
    """Accepts only TEST_KEY; HeyGen's trial limit of 3 concurrent sessions."""
    emu = start_emulator("heygen", "--api-key", TEST_KEY, "--concurrency-limit", "3")
    yield emu
    _stop_and_check(emu)


@pytest.fixture(scope="module")
def fast_emulator() -> Iterator[EmulatorProcess]:
    """Any key; sessions idle out after 2 s and sandbox sessions last 3 s (timing tests)."""
    emu = start_emulator("heygen", "--idle-timeout", "2", "--sandbox-duration", "3")
    yield emu
    _stop_and_check(emu)


@pytest.fixture
def webrtc_under_apptest() -> Iterator[None]:
    """Pages under AppTest: streamlit-webrtc asks the real Runtime for the session, and
    AppTest has a mock runtime."""
    with (
        mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None),
        mock.patch("streamlit_webrtc.shutdown.get_this_session_info", return_value=None),
    ):
        yield
