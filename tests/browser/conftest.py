"""What the conversation browser tests share: the app on the run's two embedded servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lib.bench.harness import App, streamlit_app
from lib.emulators.launcher import EmulatorProcess


@pytest.fixture(scope="module")
def conversation_app(
    local_realtime: EmulatorProcess,
    local_heygen: EmulatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[App]:
    """The app, one per test module, with the run's Realtime and avatar servers."""
    env = {
        "AVATARLAB_LOCAL_REALTIME_URL": local_realtime.base_url,
        "AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url,
    }
    with streamlit_app(tmp_path_factory.mktemp("conversation"), env) as running:
        yield running
