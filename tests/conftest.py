"""Shared fixtures: real local servers over loopback, started as a user would start them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from lib import patches
from lib.bench.pg_server import PgServer, pg_server
from lib.emulators.launcher import EmulatorProcess, start_emulator

# The libraries as the app runs them, whichever test comes first (the app patches them once, at
# start-up).
patches.apply_all()

# A complete [auth] section of the secrets (sign-in configured), for the sign-in tests.
AUTH = {
    "redirect_uri": "http://avatarlab.internal:8501/oauth2callback",
    "cookie_secret": "c" * 64,
    "client_id": "avatarlab",
    "client_secret": "s3cret",
    "server_metadata_url": "https://idp.internal/.well-known/openid-configuration",
}


@pytest.fixture(scope="session")
def local_realtime() -> Iterator[EmulatorProcess]:
    """One embedded Realtime server for the whole run (ttft 0): the conversations' voice model
    in the browser tests, and what `local_heygen`'s LiveAvatar connector sessions talk to."""
    emu = start_emulator("realtime", "--ttft-ms", "0")
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def local_heygen(local_realtime: EmulatorProcess) -> Iterator[EmulatorProcess]:
    """One embedded HeyGen-compatible server for the whole run (any key accepted)."""
    emu = start_emulator("heygen", "--openai-base-url", local_realtime.base_url)
    yield emu
    emu.stop()


def live_sessions(base_url: str) -> list[dict]:
    resp = httpx.get(f"{base_url}/v1/streaming.list", headers={"x-api-key": "local"}, timeout=10)
    resp.raise_for_status()
    return list(resp.json()["data"]["sessions"])


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """A real PostgreSQL server for the run (per xdist worker), started on first use."""
    with pg_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A fresh empty database on each backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "lab.db")
    return str(request.getfixturevalue("pg").new_database())


@pytest.fixture
def tmp_db(tmp_path, monkeypatch) -> str:
    path = str(tmp_path / "avatarlab.db")
    monkeypatch.setenv("AVATARLAB_DB", path)
    return path


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch):
    """Tests only ever target 127.0.0.1: never pick up a developer's real keys."""
    for name in ("HEYGEN_API_KEY", "LIVEAVATAR_API_KEY", "OPENAI_API_KEY"):
        if name in os.environ:
            monkeypatch.delenv(name)
